"""What the keyword classifier writes: a summary made of the ticket's own sentences, and a suggested reply
from the category's template."""

from __future__ import annotations

import re

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
