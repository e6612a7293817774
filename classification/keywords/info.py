"""Required information per category, and the tone of a reply: what a category needs from the customer
(an order number for billing, the account's email for account problems…), which of it a ticket does not
give, and the sentence that asks for it. Pure Python: the kinds are the entities the classifier extracts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

# A kind of required information: the entity list that holds it, and how a reply asks for it.
INFO_KINDS: dict[str, tuple[str, str]] = {
    "order_id": ("order_ids", "your order number"),
    "error_code": ("error_codes", "the exact error message or code you see"),
    "email": ("emails", "the email address of your account"),
    "phone": ("phones", "a phone number we can reach you on"),
    "amount": ("amounts", "the amount concerned"),
    "url": ("urls", "a link to the page where this happens"),
}
INFO_LABELS = {kind: kind.replace("_", " ") for kind in INFO_KINDS}

TONES = ("friendly", "formal", "concise")
DEFAULT_TONE = "friendly"


def missing_info(
    required: Sequence[str], entities: Mapping[str, Sequence[str]], known: Iterable[str] = ()
) -> list[str]:
    """The required kinds that neither the extracted entities nor `known` (kinds the ticket's own fields
    give, e.g. `email` when it carries the customer's address) provide, in the category's order."""
    given = set(known)
    return [
        kind for kind in required if kind in INFO_KINDS and kind not in given and not entities.get(INFO_KINDS[kind][0])
    ]


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def ask_for(missing: Sequence[str], tone: str = DEFAULT_TONE) -> str:
    """The sentence that asks the customer for what is missing ("" when nothing is)."""
    phrases = [INFO_KINDS[kind][1] for kind in missing if kind in INFO_KINDS]
    if not phrases:
        return ""
    if tone == "concise":
        return f"Please send {_join(phrases)}."
    if tone == "formal":
        return f"To proceed, we kindly ask you to provide {_join(phrases)}."
    return f"So we can sort this out quickly, could you send us {_join(phrases)}?"


# How a reply names each kind when it asks for it (whole words, any case).
_NAMED = {
    "order_id": re.compile(r"\border\s+(?:id|number|no|reference)\b", re.IGNORECASE),
    "error_code": re.compile(r"\berror\s+(?:code|message)s?\b", re.IGNORECASE),
    "email": re.compile(r"\be-?mail(?:\s+address)?\b", re.IGNORECASE),
    "phone": re.compile(r"\bphone(?:\s+number)?\b", re.IGNORECASE),
    "amount": re.compile(r"\bamount\b", re.IGNORECASE),
    "url": re.compile(r"\b(?:url|link)\b", re.IGNORECASE),
}


def mentions(reply: str, kind: str) -> bool:
    """Whether a reply (an LLM's) already names `kind`, as one that asks for it would."""
    pattern = _NAMED.get(kind)
    return bool(pattern and pattern.search(reply))
