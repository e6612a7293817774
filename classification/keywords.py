"""The keyword classifier: a pure function from (compiled rule set, ticket text) to a full result.

No Django, no I/O. Text is tokenised once, every token is reduced to a light stem (so "charged",
"charges" and "charging" meet "charge"), and one pass over the stems looks up category keywords,
multi-word phrases and the built-in cues for priority, sentiment and risk in dictionaries. Patterns
(`re:` terms) are compiled once, when the rule set is built.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

PRIORITIES = ("low", "medium", "high", "critical")
_PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
MAX_PHRASE_WORDS = 6
# Long bodies are analysed on their first part only: past this, more text adds time, not signal.
MAX_ANALYSED_CHARS = 8_000
NO_SIGNAL_CONFIDENCE = 0.2


class KeywordError(ValueError):
    """A keyword term that cannot be used (empty, too long, or a broken pattern)."""


# --- tokens and stems -------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_TAG = re.compile(r"<[^>]{0,500}>")
_SCRIPT_OR_STYLE_OPENING = re.compile(r"<(?:(script)|style)\b[^>]{0,500}>", re.IGNORECASE)
_CLOSING = {"script": re.compile(r"</script\s*>", re.IGNORECASE), "style": re.compile(r"</style\s*>", re.IGNORECASE)}
_STEM_CACHE: dict[str, str] = {}
_UNDOUBLE = frozenset("bdgmnprt")


def _stem_uncached(word: str) -> str:
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
            word = word[:-1]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
            word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def stem(word: str) -> str:
    cached = _STEM_CACHE.get(word)
    if cached is None:
        cached = _stem_uncached(word)
        if len(_STEM_CACHE) < 200_000:
            _STEM_CACHE[word] = cached
    return cached


def stems_of(text: str) -> list[str]:
    return [stem(token) for token in _TOKEN.findall(text.lower())]


def _drop_scripts_and_styles(text: str) -> str:
    """Each <script>…</script> and <style>…</style> block replaced by a space. One regex with a lazy
    `.*?` up to the closing tag would rescan the rest of the text from every opening that is never
    closed; here a closing tag is looked for once per opening, and a tag whose closing is missing
    after one opening cannot be closed after a later one either."""
    pieces: list[str] = []
    last = position = 0
    closable = {"script", "style"}
    while closable:
        opening = _SCRIPT_OR_STYLE_OPENING.search(text, position)
        if opening is None:
            break
        tag = "script" if opening.group(1) else "style"
        closing = _CLOSING[tag].search(text, opening.end()) if tag in closable else None
        if closing is None:
            closable.discard(tag)
            position = opening.start() + 1
            continue
        pieces += (text[last : opening.start()], " ")
        last = position = closing.end()
    return "".join(pieces) + text[last:] if pieces else text


def clean_text(text: str) -> str:
    """Plain text for analysis: tags dropped, entities decoded, length bounded."""
    text = text[:MAX_ANALYSED_CHARS]
    if "<" in text:
        text = _TAG.sub(" ", _drop_scripts_and_styles(text))
    if "&" in text:
        text = html.unescape(text)
    return text


# --- terms and the matcher ---------------------------------------------------------------------


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


# A payload says what a matched term means: (kind, key, weight, term text).
# kind: "cat" (key = category index), "prio" (key = priority name), "sent" (key = +1/-1),
# "risk" (key = risk factor name).
Payload = tuple[str, Any, float, str]


class _Matcher:
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


# --- built-in cues: priority, sentiment, risk --------------------------------------------------

_PRIORITY_CUES = {
    "critical": [
        "outage",
        "is down",
        "are down",
        "site down",
        "service down",
        "system down",
        "server down",
        "production down",
        "down for everyone",
        "completely down",
        "data loss",
        "lost data",
        "lost all",
        "security breach",
        "data breach",
        "breach",
        "hacked",
        "ransomware",
        "data leak",
        "all users",
        "all our users",
        "nobody can",
        "no one can",
        "entire team",
    ],
    "high": [
        "urgent",
        "urgently",
        "asap",
        "as soon as possible",
        "immediately",
        "emergency",
        "cannot log in",
        "can't log in",
        "cant log in",
        "unable to log in",
        "cannot login",
        "can't login",
        "cannot access",
        "can't access",
        "unable to access",
        "locked out",
        "not working",
        "doesn't work",
        "does not work",
        "stopped working",
        "crash",
        "charged twice",
        "double charged",
        "fraud",
        "fraudulent",
        "unauthorized",
        "unauthorised",
        "stolen",
        "compromised",
        "blocked",
        "deadline",
        "right now",
        "critical",
    ],
    "low": [
        "feature request",
        "would be nice",
        "suggestion",
        "just wondering",
        "how do i",
        "how can i",
        "is it possible",
        "curious",
        "when you have time",
        "no rush",
        "wishlist",
        "idea",
    ],
}
_NEGATIVE_WORDS = {
    "angry": 1.0,
    "frustrated": 1.0,
    "frustrating": 1.0,
    "terrible": 1.0,
    "awful": 1.0,
    "horrible": 1.0,
    "worst": 1.0,
    "unacceptable": 2.0,
    "ridiculous": 1.0,
    "disappointed": 1.0,
    "disappointing": 1.0,
    "annoyed": 1.0,
    "annoying": 1.0,
    "useless": 1.0,
    "hate": 1.0,
    "furious": 1.5,
    "upset": 1.0,
    "poor": 0.5,
    "bad": 0.5,
    "disgusted": 1.5,
    "outrageous": 1.5,
    "pathetic": 1.5,
    "scam": 1.5,
    "incompetent": 1.5,
    "fed up": 1.5,
    "sick of": 1.0,
    "still waiting": 1.0,
    "waste": 1.0,
    "nightmare": 1.0,
    "shocking": 1.0,
    "appalling": 1.5,
    "never again": 1.5,
    "not happy": 1.0,
    "worried": 0.5,
    "concerned": 0.5,
    "confused": 0.5,
}
_POSITIVE_WORDS = {
    "thank you so much": 1.5,
    "great": 1.0,
    "love": 1.0,
    "awesome": 1.0,
    "excellent": 1.0,
    "appreciate": 1.0,
    "happy": 1.0,
    "amazing": 1.0,
    "perfect": 1.0,
    "helpful": 1.0,
    "wonderful": 1.0,
    "fantastic": 1.0,
    "pleased with": 1.0,
    "glad": 0.5,
    "good": 0.5,
    "nice": 0.5,
    "brilliant": 1.0,
    "kudos": 1.0,
    "impressed": 1.0,
}
_NEGATORS = frozenset({"not", "no", "never", "t", "dont", "didnt", "isnt", "wasnt", "cannot", "hardly"})
_RISK_CUES = {
    "legal": (
        0.3,
        [
            "lawyer",
            "attorney",
            "lawsuit",
            "sue",
            "legal action",
            "court",
            "solicitor",
            "ombudsman",
            "regulator",
            "chargeback",
            "small claims",
            "consumer protection",
            "report you",
        ],
    ),
    "churn": (
        0.2,
        [
            "cancel my subscription",
            "cancel my account",
            "close my account",
            "terminate my account",
            "switch to",
            "switching to",
            "competitor",
            "going elsewhere",
            "take my business",
            "never again",
            "delete my account",
            "leaving",
        ],
    ),
    "security": (
        0.3,
        [
            "hacked",
            "breach",
            "fraud",
            "fraudulent",
            "unauthorized",
            "unauthorised",
            "stolen",
            "compromised",
            "phishing",
            "identity theft",
            "someone else",
            "suspicious",
        ],
    ),
    "data_loss": (
        0.25,
        [
            "data loss",
            "lost data",
            "lost all",
            "deleted",
            "disappeared",
            "wiped",
            "missing data",
            "corrupted",
            "lost my files",
        ],
    ),
}
_PRIORITY_BASE_RISK = {"critical": 0.55, "high": 0.35, "medium": 0.15, "low": 0.05}


def _add_builtin_cues(matcher: _Matcher) -> None:
    for level, terms in _PRIORITY_CUES.items():
        for term in terms:
            matcher.add(parse_term(term), ("prio", level, 1.0, term))
    for words, sign in ((_NEGATIVE_WORDS, -1), (_POSITIVE_WORDS, 1)):
        for term, weight in words.items():
            matcher.add(parse_term(term), ("sent", sign, weight, term))
    for factor, (weight, terms) in _RISK_CUES.items():
        for term in terms:
            matcher.add(parse_term(term), ("risk", factor, weight, term))


# --- entities ----------------------------------------------------------------------------------

_ENTITY_CAP = 10
# Every entity pattern runs on every ticket, and the PII mask on every body sent to the LLM, so each one
# must take time linear in the text whatever the text is. Two rules keep them so (bench/regex.py measures
# it): no unbounded run may be scanned from more than one place (an unbounded run after a start that
# can occur on every character is quadratic: Python's `re` starts over at each position), and no two
# adjacent quantifiers over the same characters unless the first is possessive (`*+`, `++`; Python 3.11).

# An email: local part, `@`, domain. The leading run is unbounded, so a search may only start where the
# run starts (the lookbehind), or exactly where the previous match ended (see `email_spans`): those are
# the only places the plain pattern could match first, so the spans are the plain pattern's spans.
_EMAIL_LOCAL = "A-Za-z0-9._%+-"
_EMAIL = re.compile(rf"[{_EMAIL_LOCAL}]+@[A-Za-z0-9.-]+\.[A-Za-z]{{2,}}")
_EMAIL_AT_RUN_START = re.compile(rf"(?<![{_EMAIL_LOCAL}]){_EMAIL.pattern}")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()]+", re.IGNORECASE)
_ORDER = re.compile(
    r"(?:\border(?:\s++(?:id|number|no\.?|ref))?\s*+[:#]?\s*+|#)([A-Z0-9][A-Z0-9-]{3,24})\b|\b(ORD-?\d{3,})\b",
    re.IGNORECASE,
)
# After "error" / "error code": a run of code characters with a digit in its first 33, at most 64 long.
_ERROR_CODE = re.compile(
    r"\b(?:(?:E|ERR|ERROR)[-_]?\d{2,6}|[A-Z]{2,}(?:_[A-Z0-9]+)+|HTTP\s?[45]\d\d|0x[0-9A-Fa-f]{6,8})\b"
    r"|\berror(?:\s++code)?\s*+[:#]?\s*+((?=[A-Z_-]{0,32}\d)[A-Z0-9_-]{1,64}+)",
    re.IGNORECASE,
)
PHONE_RE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{2,4}(?!\w|\.\d)"
)
# "12.50 EUR" may start after any comma of "1,2,3,…", so that number is bounded (25 characters).
_AMOUNT = re.compile(
    r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d{1,2})?|"
    r"\b\d[\d,]{0,24}+(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|CAD|AUD|dollars?|euros?|pounds?)\b|"
    r"\b(?:USD|EUR|GBP|CAD|AUD)\s?\d[\d,]*(?:\.\d{1,2})?)",
    re.IGNORECASE,
)


def email_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each email address, left to right, as `re.finditer` with the plain pattern would
    find them, in linear time."""
    if "@" not in text:
        return
    position = 0
    while True:
        # A match can start mid-run only where the previous one ended ("a@b.io_c@d.io").
        found = _EMAIL.match(text, position) or _EMAIL_AT_RUN_START.search(text, position)
        if found is None:
            return
        yield found.span()
        position = found.end()


def mask_emails(text: str, replacement: str) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in email_spans(text):
        pieces += (text[last:start], replacement)
        last = end
    return "".join(pieces) + text[last:] if pieces else text


_DIGIT = re.compile(r"\d")
_CURRENCY_HINT = re.compile(r"[$€£¥]|usd|eur|gbp|cad|aud|dollar|euro|pound", re.IGNORECASE)


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip().rstrip(".,;:!?)")
        if value and value not in seen:
            seen[value] = None
            if len(seen) >= _ENTITY_CAP:
                break
    return list(seen)


def _looks_like_code(found: str) -> bool:
    # A digit (E4012, HTTP 500) or an upper-case SNAKE_CASE name (ERR_CONNECTION_RESET), not snake_case prose.
    return any(c.isdigit() for c in found) or ("_" in found and found.isupper())


def extract_entities(text: str) -> dict[str, list[str]]:
    entities: dict[str, list[str]] = {
        "order_ids": [],
        "error_codes": [],
        "emails": [],
        "phones": [],
        "amounts": [],
        "urls": [],
    }
    if "@" in text:
        entities["emails"] = _unique(text[start:end] for start, end in email_spans(text))
    lowered = text.lower()
    if "http" in lowered or "www." in lowered:
        entities["urls"] = _unique(_URL.findall(text))
    if "order" in lowered or "#" in text or "ord" in lowered:
        found = (a or b for a, b in _ORDER.findall(text))
        entities["order_ids"] = _unique(v for v in found if any(c.isdigit() for c in v))
    has_digit = _DIGIT.search(text) is not None
    if has_digit or "_" in text:
        entities["error_codes"] = _unique(
            m.group(1) or m.group(0) for m in _ERROR_CODE.finditer(text) if _looks_like_code(m.group(0))
        )
    if has_digit and _CURRENCY_HINT.search(text):
        entities["amounts"] = _unique(_AMOUNT.findall(text))
    if has_digit:
        entities["phones"] = _unique(p for p in PHONE_RE.findall(text) if sum(c.isdigit() for c in p) >= 8)
    return entities


# --- summary and reply -------------------------------------------------------------------------

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings)\b[^.!?\n]{0,40}[,.!]?\s*$", re.IGNORECASE
)
_SIGN_OFF = re.compile(r"^(?:thanks?|thank you|regards|best|cheers|kind regards|sincerely|sent from)\b", re.IGNORECASE)
_GREETING_PREFIX = re.compile(r"^(?:hi|hello|hey|dear)\b[^,.!?\n]{0,30}[,!]\s+", re.IGNORECASE)
SUMMARY_MAX_CHARS = 240
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_REPLY = (
    "Hi {customer_name},\n\nThank you for contacting us. Your request has been passed to our {team} team, "
    "who will get back to you shortly.\n\nBest regards,\nSupport"
)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def summarize(subject: str, body: str) -> str:
    """One or two of the ticket's own sentences, greetings and sign-offs left out."""
    picked: list[str] = []
    length = 0
    for sentence in _SENTENCE_SPLIT.split(body):
        sentence = _GREETING_PREFIX.sub("", sentence.strip())
        if len(sentence) < 3 or _GREETING.match(sentence) or _SIGN_OFF.match(sentence):
            continue
        picked.append(sentence)
        length += len(sentence)
        if len(picked) == 2 or length >= SUMMARY_MAX_CHARS:
            break
    if not picked:
        return _clip(subject, SUMMARY_MAX_CHARS)
    return _clip(" ".join(picked), SUMMARY_MAX_CHARS)


def render_reply(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders; unknown ones stay as written. No attribute access, unlike str.format."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template or DEFAULT_REPLY)


# --- the rule set and the classifier -----------------------------------------------------------


@dataclass(frozen=True)
class CategorySpec:
    slug: str
    team: str
    terms: Sequence[tuple[str, float]] = ()
    reply_template: str = ""


@dataclass
class RuleSet:
    slugs: tuple[str, ...]
    teams: tuple[str, ...]
    templates: tuple[str, ...]
    default_index: int
    escalation_team: str
    matcher: _Matcher
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (slug, term, reason)


def compile_rules(
    categories: Sequence[CategorySpec], *, default_slug: str = "general", escalation_team: str = "escalation"
) -> RuleSet:
    """Compile the taxonomy once. A bad term is skipped and reported in `skipped`, never raised,
    so one broken keyword cannot stop classification."""
    if not categories:
        raise KeywordError("the taxonomy has no categories")
    matcher = _Matcher()
    _add_builtin_cues(matcher)
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
        matcher.add(parsed, ("cat", per_category, 0.0, text))
    slugs = tuple(spec.slug for spec in categories)
    return RuleSet(
        slugs=slugs,
        teams=tuple(spec.team for spec in categories),
        templates=tuple(spec.reply_template for spec in categories),
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


# Terms found in the subject count this much more than the same terms in the body.
SUBJECT_BOOST = 1.5


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
    for position, (kind, key, weight, term) in rules.matcher.scan(stems, text):
        if kind == "cat":
            if term not in hits:
                hits[term] = key
                boost = SUBJECT_BOOST if 0 <= position < subject_tokens else 1.0
                for index, term_weight in key.items():
                    scores[index] += term_weight * boost
        elif kind == "prio":
            tally.priority_cues.setdefault(key, []).append(term)
        elif kind == "sent":
            negated = position > 0 and any(s in _NEGATORS for s in stems[max(0, position - 2) : position])
            sign = -key if negated else key
            tally.sentiment += sign * weight
            tally.sentiment_cues.append(("not " if negated else "") + term)
        else:
            tally.risk_factors.setdefault(key, []).append(term)
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
    risk = _PRIORITY_BASE_RISK[priority]
    if sentiment_score <= -1.0:
        risk += 0.2 if sentiment_score <= -2.5 else 0.12
    risk += sum(_RISK_CUES[factor][0] for factor in factors)
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


def classify(
    rules: RuleSet, subject: str, body: str, *, declared_priority: str = "", customer_name: str = ""
) -> KeywordResult:
    subject_text = clean_text(subject or "")
    body_text = clean_text(body or "")
    subject_stems = stems_of(subject_text)
    stems = subject_stems + stems_of(body_text)
    combined = f"{subject_text}\n{body_text}"
    tally = _tally(rules, stems, combined, len(subject_stems))

    index, confidence = _pick_category(rules, tally)
    priority = _pick_priority(tally.priority_cues, declared_priority)
    sentiment_score = _sentiment_score(tally, combined)
    team = rules.escalation_team if priority == "critical" else rules.teams[index]
    entities = extract_entities(combined)
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
    )


# --- term matching for tuning ------------------------------------------------------------------


class TermMatcher:
    """Matches a list of terms against tickets exactly as `classify` matches category keywords;
    `suggest_keywords` uses it to learn weights. Bad terms are skipped."""

    def __init__(self, terms: Sequence[str]) -> None:
        self._matcher = _Matcher()
        for index, term in enumerate(terms):
            try:
                self._matcher.add(parse_term(term), ("cat", index, 1.0, term))
            except KeywordError:
                continue

    def features(self, subject: str, body: str) -> dict[int, float]:
        """Matched term index → the weight factor classify would apply (subject boost or 1)."""
        subject_text, body_text = clean_text(subject or ""), clean_text(body or "")
        subject_stems = stems_of(subject_text)
        stems = subject_stems + stems_of(body_text)
        found: dict[int, float] = {}
        for position, (_, index, _, _) in self._matcher.scan(stems, f"{subject_text}\n{body_text}"):
            if index not in found:
                found[index] = SUBJECT_BOOST if 0 <= position < len(subject_stems) else 1.0
        return found


def surface_tokens(text: str) -> list[str]:
    """Lower-cased tokens of cleaned text, in the same split `stems_of` uses."""
    return _TOKEN.findall(clean_text(text).lower())
