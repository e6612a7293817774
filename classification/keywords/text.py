"""Text as the keyword classifier reads it: tags and scripts dropped, entities decoded, length bounded,
split into tokens and reduced to light stems (so "charged", "charges" and "charging" meet "charge")."""

from __future__ import annotations

import html
import re

# Long bodies are analysed on their first part only: past this, more text adds time, not signal.
MAX_ANALYSED_CHARS = 8_000

TOKEN = re.compile(r"[^\W_]+")
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
    return [stem(token) for token in TOKEN.findall(text.lower())]


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


def surface_tokens(text: str) -> list[str]:
    """Lower-cased tokens of cleaned text, in the same split `stems_of` uses."""
    return TOKEN.findall(clean_text(text).lower())
