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


_CONTRACTIONS = {
    "we'll": "we will",
    "you'll": "you will",
    "we've": "we have",
    "you've": "you have",
    "we're": "we are",
    "you're": "you are",
    "it's": "it is",
    "can't": "cannot",
    "don't": "do not",
    "won't": "will not",
    "isn't": "is not",
    "let's": "let us",
}
_CONTRACTION = re.compile(r"\b(" + "|".join(re.escape(c) for c in _CONTRACTIONS) + r")\b", re.IGNORECASE)
_THANKS = re.compile(r"\bThanks (for|so much)\b")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.DOTALL)


def _expand(match: re.Match[str]) -> str:
    word = _CONTRACTIONS[match.group(0).lower()]
    return word[0].upper() + word[1:] if match.group(0)[0].isupper() else word


def _parts(reply: str) -> tuple[str, list[str], str]:
    """A reply's greeting paragraph, body paragraphs and sign-off paragraph ("" where it has none)."""
    paragraphs = [p.strip() for p in reply.strip().split("\n\n") if p.strip()]
    greeting = paragraphs.pop(0) if paragraphs and _GREETING.match(paragraphs[0]) else ""
    sign_off = paragraphs.pop() if paragraphs and _SIGN_OFF.match(paragraphs[-1]) else ""
    return greeting, paragraphs, sign_off


def _formal(greeting: str, body: list[str], sign_off: str) -> tuple[str, list[str], str]:
    greeting = re.sub(r"^(?:hi|hello|hey)\b", "Dear", greeting, flags=re.IGNORECASE)
    body = [_THANKS.sub(r"Thank you \1", _CONTRACTION.sub(_expand, p)).replace("!", ".") for p in body]
    sign_off = re.sub(r"^(?:best regards|best|cheers|thanks)\b", "Kind regards", sign_off, flags=re.IGNORECASE)
    return greeting, body, sign_off


def with_tone(reply: str, tone: str, ask: str = "") -> str:
    """A template's reply in `tone` (friendly: as written; formal: "Dear", no contractions, "Kind regards";
    concise: the body's first sentence and the signature only), with `ask` (the request for missing
    information) as its own paragraph before the sign-off."""
    greeting, body, sign_off = _parts(reply)
    if tone == "formal":
        greeting, body, sign_off = _formal(greeting, body, sign_off)
    elif tone == "concise":
        first = _FIRST_SENTENCE.match(" ".join(body)) if body else None
        body = [first.group(1) if first else " ".join(body)] if body else []
        greeting, sign_off = "", sign_off.splitlines()[-1] if sign_off else ""
        if ask:
            body, ask = [" ".join([*body, ask])], ""
    paragraphs = [greeting, *body, ask, sign_off]
    return "\n\n".join(p for p in paragraphs if p)
