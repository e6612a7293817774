"""Entities found by regular expressions (order ids, error codes, emails, phones, amounts, URLs), and the
masking of personal data before text leaves for the LLM. Every pattern is linear in the text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

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


_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_NON_DIGIT = re.compile(r"\D")
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    values = [int(char) for char in reversed(digits)]
    return (sum(values[0::2]) + sum(_LUHN_DOUBLED[value] for value in values[1::2])) % 10 == 0


def _card_or_kept(match: re.Match[str]) -> str:
    return "[CARD]" if _luhn_ok(_NON_DIGIT.sub("", match.group(0))) else match.group(0)


def _phone_or_kept(match: re.Match[str]) -> str:
    return "[PHONE]" if sum(map(str.isdigit, match.group(0))) >= 8 else match.group(0)


def mask_pii(text: str) -> str:
    """Emails, card numbers and phone numbers are replaced before the text leaves for the LLM. Linear in
    the text whatever it holds (bench/regex.py measures adversarial bodies)."""
    text = mask_emails(text, "[EMAIL]")
    if _DIGIT.search(text) is None:
        return text
    return PHONE_RE.sub(_phone_or_kept, _CARD.sub(_card_or_kept, text))
