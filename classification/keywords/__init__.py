"""The keyword classifier, a package of its jobs: `text` (cleaning, tokens, stems), `matcher` (terms and
the one-pass matcher), `lexicon` (built-in priority, sentiment and risk cues), `entities` (extraction and
PII masking), `reply` (summary and suggested reply) and `classifier` (the rule set and `classify`).
Pure Python: no Django, no I/O."""

from __future__ import annotations

from classification.keywords.classifier import (
    PRIORITIES,
    CategorySpec,
    KeywordResult,
    RuleSet,
    classify,
    compile_rules,
    merge_entities,
    routing_alternatives,
)
from classification.keywords.entities import PHONE_RE, email_spans, extract_entities, mask_emails, mask_pii
from classification.keywords.matcher import KeywordError, ParsedTerm, TermMatcher, parse_term
from classification.keywords.reply import render_reply, summarize, with_tone
from classification.keywords.text import MAX_ANALYSED_CHARS, clean_text, stem, stems_of, surface_tokens

__all__ = [
    "MAX_ANALYSED_CHARS",
    "PHONE_RE",
    "PRIORITIES",
    "CategorySpec",
    "KeywordError",
    "KeywordResult",
    "ParsedTerm",
    "RuleSet",
    "TermMatcher",
    "classify",
    "clean_text",
    "compile_rules",
    "email_spans",
    "extract_entities",
    "mask_emails",
    "mask_pii",
    "merge_entities",
    "parse_term",
    "render_reply",
    "routing_alternatives",
    "stem",
    "stems_of",
    "summarize",
    "surface_tokens",
    "with_tone",
]
