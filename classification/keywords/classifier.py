"""The keyword classifier: a pure function from (compiled rule set, ticket text) to a full result.

No Django, no I/O. One pass over the ticket's stems looks up category keywords, multi-word phrases and
the built-in cues for priority, sentiment and risk in dictionaries; patterns (`re:` terms) are compiled
once, when the rule set is built from the taxonomy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from classification.keywords.entities import extract_entities
from classification.keywords.lexicon import NEGATORS, PRIORITY_BASE_RISK, RISK_CUES, add_builtin_cues
from classification.keywords.matcher import (
    SUBJECT_BOOST,
    CategoryTerm,
    KeywordError,
    Matcher,
    ParsedTerm,
    PriorityCue,
    RiskCue,
    SentimentCue,
    parse_term,
)
from classification.keywords.reply import render_reply, summarize
from classification.keywords.text import clean_text, stems_of

PRIORITIES = ("low", "medium", "high", "critical")
_PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
NO_SIGNAL_CONFIDENCE = 0.2


@dataclass(frozen=True)
class CategorySpec:
    slug: str
    team: str
    terms: Sequence[tuple[str, float]] = ()
    reply_template: str = ""
    required_info: Sequence[str] = ()
    reply_tone: str = "friendly"


@dataclass
class RuleSet:
    slugs: tuple[str, ...]
    teams: tuple[str, ...]
    templates: tuple[str, ...]
    required: tuple[tuple[str, ...], ...]
    tones: tuple[str, ...]
    default_index: int
    escalation_team: str
    matcher: Matcher
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (slug, term, reason)


def compile_rules(
    categories: Sequence[CategorySpec], *, default_slug: str = "general", escalation_team: str = "escalation"
) -> RuleSet:
    """Compile the taxonomy once. A bad term is skipped and reported in `skipped`, never raised,
    so one broken keyword cannot stop classification."""
    if not categories:
        raise KeywordError("the taxonomy has no categories")
    matcher = Matcher()
    add_builtin_cues(matcher)
    skipped: list[tuple[str, str, str]] = []
    # One payload per term with the weight it carries for each category, so a matched term costs one
    # lookup however many categories use it. A term listed twice in one category counts once.
    weights: dict[str, tuple[ParsedTerm, dict[int, float]]] = {}
    for index, spec in enumerate(categories):
        for term, weight in spec.terms:
            try:
                parsed = parse_term(term)
            except KeywordError as exc:
                skipped.append((spec.slug, term, str(exc)))
                continue
            weights.setdefault(parsed.text, (parsed, {}))[1].setdefault(index, float(weight))
    for text, (parsed, per_category) in weights.items():
        matcher.add(parsed, CategoryTerm(text, per_category))
    slugs = tuple(spec.slug for spec in categories)
    return RuleSet(
        slugs=slugs,
        teams=tuple(spec.team for spec in categories),
        templates=tuple(spec.reply_template for spec in categories),
        required=tuple(tuple(spec.required_info) for spec in categories),
        tones=tuple(spec.reply_tone for spec in categories),
        default_index=slugs.index(default_slug) if default_slug in slugs else len(slugs) - 1,
        escalation_team=escalation_team,
        matcher=matcher,
        skipped=skipped,
    )


@dataclass(frozen=True)
class KeywordResult:
    category: str
    confidence: float
    matched_keywords: list[str]
    priority: str
    sentiment: str
    risk: float
    team: str
    entities: dict[str, list[str]]
    summary: str
    suggested_reply: str
    explanation: dict[str, Any]
    secondary_categories: list[dict[str, Any]] = field(default_factory=list)
    urgency_indicators: list[str] = field(default_factory=list)
    reasoning: str = ""
    routing_alternatives: list[dict[str, Any]] = field(default_factory=list)


# Another category counts as the ticket's too when it scores at least this share of the best one's score, or
# SECONDARY_STRONG_SCORE whatever the best one's (a login problem beside a long billing complaint), and at
# least SECONDARY_MIN_SCORE; at most SECONDARY_MAX of them.
SECONDARY_SHARE = 0.5
SECONDARY_STRONG_SCORE = 4.0
SECONDARY_MIN_SCORE = 1.0
SECONDARY_MAX = 3


@dataclass
class _Tally:
    scores: list[float]
    # Matched category terms with their weight per category index, each term once.
    hits: dict[str, dict[int, float]]
    priority_cues: dict[str, list[str]] = field(default_factory=dict)
    sentiment: float = 0.0
    sentiment_cues: list[str] = field(default_factory=list)
    risk_factors: dict[str, list[str]] = field(default_factory=dict)


def _tally(rules: RuleSet, stems: list[str], text: str, subject_tokens: int) -> _Tally:
    tally = _Tally(scores=[0.0] * len(rules.slugs), hits={})
    scores, hits = tally.scores, tally.hits
    for position, payload in rules.matcher.scan(stems, text):
        if isinstance(payload, CategoryTerm):
            if payload.term not in hits:
                hits[payload.term] = payload.weights
                boost = SUBJECT_BOOST if 0 <= position < subject_tokens else 1.0
                for index, term_weight in payload.weights.items():
                    scores[index] += term_weight * boost
        elif isinstance(payload, PriorityCue):
            tally.priority_cues.setdefault(payload.level, []).append(payload.term)
        elif isinstance(payload, SentimentCue):
            negated = position > 0 and any(s in NEGATORS for s in stems[max(0, position - 2) : position])
            sign = -payload.sign if negated else payload.sign
            tally.sentiment += sign * payload.weight
            tally.sentiment_cues.append(("not " if negated else "") + payload.term)
        elif isinstance(payload, RiskCue):
            tally.risk_factors.setdefault(payload.factor, []).append(payload.term)
    return tally


def _pick_category(rules: RuleSet, tally: _Tally) -> tuple[int, float]:
    best, best_score, runner_up = rules.default_index, 0.0, 0.0
    for index, score in enumerate(tally.scores):
        if score > best_score:
            best, best_score, runner_up = index, score, best_score
        elif score > runner_up:
            runner_up = score
    if best_score <= 0:
        return rules.default_index, NO_SIGNAL_CONFIDENCE
    strength = 1.0 - math.exp(-best_score / 1.5)
    margin = (best_score - max(runner_up, 0.0)) / best_score
    return best, round(min(0.95, 0.3 + 0.65 * strength * (0.4 + 0.6 * margin)), 3)


def _pick_priority(cues: dict[str, list[str]], declared: str) -> str:
    if "critical" in cues:
        level = "critical"
    elif "high" in cues:
        level = "high"
    elif "low" in cues:
        level = "low"
    else:
        level = "medium"
    if declared in _PRIORITY_RANK:
        # A customer's own "critical" without any urgency cue is trusted as far as "high".
        trusted = "high" if declared == "critical" and not cues.get("high") else declared
        if _PRIORITY_RANK[trusted] > _PRIORITY_RANK[level]:
            level = trusted
    return level


def _sentiment_score(tally: _Tally, raw: str) -> float:
    score = tally.sentiment
    exclamations = raw.count("!")
    shouted = sum(1 for word in raw.split() if len(word) >= 4 and word.isupper() and word.isalpha())
    if exclamations >= 2 or shouted >= 2:
        # Exclamation marks and capitals amplify what is there; on their own they read as upset.
        score = score * 1.5 if score < 0 else score - 1.0
    return score


def _label_sentiment(score: float) -> str:
    if score <= -1.0:
        return "negative"
    if score >= 1.0:
        return "positive"
    return "neutral"


def _risk(priority: str, sentiment_score: float, factors: dict[str, list[str]]) -> float:
    risk = PRIORITY_BASE_RISK[priority]
    if sentiment_score <= -1.0:
        risk += 0.2 if sentiment_score <= -2.5 else 0.12
    risk += sum(RISK_CUES[factor][0] for factor in factors)
    return round(min(1.0, risk), 3)


def _reply_values(rules: RuleSet, index: int, team: str, entities: dict[str, list[str]], name: str) -> dict[str, str]:
    def first(key: str, fallback: str) -> str:
        return entities[key][0] if entities[key] else fallback

    return {
        "customer_name": name or "there",
        "order_id": first("order_ids", "your order"),
        "error_code": first("error_codes", "the error"),
        "amount": first("amounts", "the amount"),
        "email": first("emails", "your email address"),
        "url": first("urls", "the page"),
        "team": team,
        "category": rules.slugs[index].replace("_", " "),
    }


def merge_entities(first: dict[str, list[str]], then: dict[str, list[str]]) -> dict[str, list[str]]:
    """Both sets of entities, `first`'s values first, each value once (every key of `then` kept)."""
    keys = list(dict.fromkeys([*then, *first]))
    return {key: list(dict.fromkeys([*first.get(key, []), *then.get(key, [])]))[:10] for key in keys}


def _secondary(rules: RuleSet, tally: _Tally, index: int, confidence: float) -> list[dict[str, Any]]:
    """Other categories the ticket is about too: those scoring at least SECONDARY_SHARE of the chosen
    one's score, their confidence scaled by that share."""
    best = tally.scores[index]
    if best <= 0:
        return []
    others = sorted(
        ((score, i) for i, score in enumerate(tally.scores) if i != index and score >= SECONDARY_MIN_SCORE),
        reverse=True,
    )
    return [
        {"category": rules.slugs[i], "confidence": round(confidence * min(score / best, 1.0), 3)}
        for score, i in others[:SECONDARY_MAX]
        if score >= min(SECONDARY_SHARE * best, SECONDARY_STRONG_SCORE)
    ]


def _urgency(cues: dict[str, list[str]], priority: str, declared: str) -> list[str]:
    """The phrases that raised the priority above medium (and the customer's own declaration, when it did)."""
    indicators = (
        [
            term
            for level in ("critical", "high")
            if _PRIORITY_RANK[level] <= _PRIORITY_RANK[priority]
            for term in cues.get(level, [])
        ]
        if priority in ("critical", "high")
        else []
    )
    if declared and declared == priority and not cues.get(priority):
        indicators.append(f"declared priority: {declared}")
    return list(dict.fromkeys(indicators))[:10]


def _quoted(terms: Sequence[str], limit: int = 3) -> str:
    """The most telling terms, quoted: the longest first, none that a longer one already holds."""
    ranked = sorted(dict.fromkeys(terms), key=lambda term: (-len(term), term))
    kept = [term for index, term in enumerate(ranked) if not any(term in longer for longer in ranked[:index])]
    return ", ".join(f"'{term}'" for term in kept[:limit])


def _reasoning(rules: RuleSet, index: int, matched: list[str], priority: str, urgency: list[str]) -> str:
    category = rules.slugs[index].replace("_", " ")
    if matched:
        why = f"Filed as {category} because it mentions {_quoted(matched)}"
    else:
        why = f"No category keyword matched, so it was filed as {category} (the default)"
    if urgency:
        return f"{why}; priority {priority} from {_quoted(urgency)}."
    return f"{why}; priority {priority}."


def routing_alternatives(
    rules: RuleSet, category: str, priority: str, secondary: Sequence[dict[str, Any]], confidence: float
) -> list[dict[str, Any]]:
    """Teams the ticket could go to instead of the one chosen, with confidences: the category's own team
    when a critical ticket went to escalation, and the teams of its secondary categories."""
    teams = dict(zip(rules.slugs, rules.teams, strict=True))
    chosen = rules.escalation_team if priority == "critical" else teams.get(category, "")
    options: list[dict[str, Any]] = []
    if priority == "critical" and category in teams:
        options.append({"team": teams[category], "category": category, "confidence": confidence})
    for entry in secondary:
        if entry.get("category") in teams:
            options.append(
                {"team": teams[entry["category"]], "category": entry["category"], "confidence": entry["confidence"]}
            )
    seen = {chosen}
    alternatives = []
    for option in options:
        if option["team"] and option["team"] not in seen:
            seen.add(option["team"])
            alternatives.append(option)
    return alternatives


def classify(
    rules: RuleSet,
    subject: str,
    body: str,
    *,
    declared_priority: str = "",
    customer_name: str = "",
    given_category: str = "",
    given_priority: str = "",
    given_entities: dict[str, list[str]] | None = None,
) -> KeywordResult:
    """The keyword answer for one ticket. `given_category` / `given_priority` / `given_entities` (a caller
    who already knows them) are kept as they are; everything else is worked out around them."""
    subject_text = clean_text(subject or "")
    body_text = clean_text(body or "")
    subject_stems = stems_of(subject_text)
    stems = subject_stems + stems_of(body_text)
    combined = f"{subject_text}\n{body_text}"
    tally = _tally(rules, stems, combined, len(subject_stems))

    index, confidence = _pick_category(rules, tally)
    if given_category in rules.slugs:
        index, confidence = rules.slugs.index(given_category), 1.0
    priority = (
        given_priority if given_priority in _PRIORITY_RANK else _pick_priority(tally.priority_cues, declared_priority)
    )
    sentiment_score = _sentiment_score(tally, combined)
    team = rules.escalation_team if priority == "critical" else rules.teams[index]
    entities = merge_entities(given_entities or {}, extract_entities(combined))
    matched = sorted(term for term, per_category in tally.hits.items() if index in per_category)
    explanation: dict[str, Any] = {
        "scores": {slug: round(score, 3) for slug, score in zip(rules.slugs, tally.scores, strict=True) if score},
        "priority_cues": tally.priority_cues,
        "sentiment_score": round(sentiment_score, 2),
        "sentiment_cues": tally.sentiment_cues,
        "risk_factors": tally.risk_factors,
    }
    if not matched:
        explanation["note"] = "no category keyword matched; filed under the default category"
    secondary = _secondary(rules, tally, index, confidence)
    urgency = _urgency(tally.priority_cues, priority, declared_priority)
    return KeywordResult(
        category=rules.slugs[index],
        confidence=confidence,
        matched_keywords=matched,
        priority=priority,
        sentiment=_label_sentiment(sentiment_score),
        risk=_risk(priority, sentiment_score, tally.risk_factors),
        team=team,
        entities=entities,
        summary=summarize(subject_text, body_text),
        suggested_reply=render_reply(
            rules.templates[index], _reply_values(rules, index, team, entities, customer_name)
        ),
        explanation=explanation,
        secondary_categories=secondary,
        urgency_indicators=urgency,
        reasoning=_reasoning(rules, index, matched, priority, urgency),
        routing_alternatives=routing_alternatives(rules, rules.slugs[index], priority, secondary, confidence),
    )
