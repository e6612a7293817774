"""Keyword terms (words, phrases of up to six words, `re:` patterns) compiled into one matcher that finds
them all in a single pass over a ticket's stems."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from classification.keywords.text import clean_text, stems_of

MAX_PHRASE_WORDS = 6
# Terms found in the subject count this much more than the same terms in the body.
SUBJECT_BOOST = 1.5


class KeywordError(ValueError):
    """A keyword term that cannot be used (empty, too long, or a broken pattern)."""


@dataclass(frozen=True)
class ParsedTerm:
    text: str
    stems: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None


def parse_term(term: str) -> ParsedTerm:
    """Check and compile one keyword term; raises KeywordError for a term that cannot work."""
    stripped = term.strip()
    if not stripped:
        raise KeywordError("empty term")
    if stripped.startswith("re:"):
        source = stripped[3:]
        try:
            pattern = re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise KeywordError(f"invalid pattern: {exc}") from None
        if pattern.search("") is not None:
            raise KeywordError("pattern matches empty text, so it would match every ticket")
        return ParsedTerm(text=stripped, pattern=pattern)
    stems = tuple(stems_of(stripped))
    if not stems:
        raise KeywordError("term has no letters or digits")
    if len(stems) > MAX_PHRASE_WORDS:
        raise KeywordError(f"phrases are limited to {MAX_PHRASE_WORDS} words")
    return ParsedTerm(text=stripped, stems=stems)


# What a matched term means: one small record per kind of term.


@dataclass(frozen=True, slots=True)
class CategoryTerm:
    """A taxonomy keyword, with the weight it carries for each category (by index) that lists it."""

    term: str
    weights: dict[int, float]


@dataclass(frozen=True, slots=True)
class PriorityCue:
    term: str
    level: str


@dataclass(frozen=True, slots=True)
class SentimentCue:
    term: str
    sign: int  # +1 positive, -1 negative
    weight: float


@dataclass(frozen=True, slots=True)
class RiskCue:
    term: str
    factor: str


@dataclass(frozen=True, slots=True)
class TuningTerm:
    """A candidate term while `suggest_keywords` learns weights: its index in the candidate list."""

    term: str
    index: int


Payload = CategoryTerm | PriorityCue | SentimentCue | RiskCue | TuningTerm


class Matcher:
    def __init__(self) -> None:
        self.words: dict[str, list[Payload]] = {}
        # Phrases are indexed by their first two stems, so a common first word ("my …") costs one lookup.
        self.phrases: dict[tuple[str, str], list[tuple[tuple[str, ...], Payload]]] = {}
        self.patterns: list[tuple[re.Pattern[str], Payload]] = []

    def add(self, parsed: ParsedTerm, payload: Payload) -> None:
        if parsed.pattern is not None:
            self.patterns.append((parsed.pattern, payload))
        elif len(parsed.stems) == 1:
            self.words.setdefault(parsed.stems[0], []).append(payload)
        else:
            self.phrases.setdefault((parsed.stems[0], parsed.stems[1]), []).append((parsed.stems, payload))

    def scan(self, stems: Sequence[str], text: str) -> list[tuple[int, Payload]]:
        """Every match as (token position, payload); pattern matches get position -1."""
        found: list[tuple[int, Payload]] = []
        words, phrases = self.words, self.phrases
        last = len(stems) - 1
        for position, current in enumerate(stems):
            hits = words.get(current)
            if hits:
                found.extend((position, payload) for payload in hits)
            if position < last:
                candidates = phrases.get((current, stems[position + 1]))
                if candidates:
                    for phrase, payload in candidates:
                        if len(phrase) == 2 or tuple(stems[position : position + len(phrase)]) == phrase:
                            found.append((position, payload))
        for pattern, payload in self.patterns:
            if pattern.search(text):
                found.append((-1, payload))
        return found


class TermMatcher:
    """Matches a list of terms against tickets exactly as `classify` matches category keywords;
    `suggest_keywords` uses it to learn weights. Bad terms are skipped."""

    def __init__(self, terms: Sequence[str]) -> None:
        self._matcher = Matcher()
        for index, term in enumerate(terms):
            try:
                self._matcher.add(parse_term(term), TuningTerm(term, index))
            except KeywordError:
                continue

    def features(self, subject: str, body: str) -> dict[int, float]:
        """Matched term index → the weight factor classify would apply (subject boost or 1)."""
        subject_text, body_text = clean_text(subject or ""), clean_text(body or "")
        subject_stems = stems_of(subject_text)
        stems = subject_stems + stems_of(body_text)
        found: dict[int, float] = {}
        for position, payload in self._matcher.scan(stems, f"{subject_text}\n{body_text}"):
            if isinstance(payload, TuningTerm) and payload.index not in found:
                found[payload.index] = SUBJECT_BOOST if 0 <= position < len(subject_stems) else 1.0
        return found
