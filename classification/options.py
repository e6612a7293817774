"""What a caller may ask of one enrichment: the reply's tone, and whether a reply is drafted and entities
extracted. The deployment's switches (REPLY_GENERATION, ENTITY_EXTRACTION) win: a request can turn either
off for itself (cost, policy), never back on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from classification.keywords.info import TONES


@dataclass(frozen=True)
class Options:
    tone: str = ""  # "" → the category's own tone (its `reply_tone`)
    reply: bool = True
    extract: bool = True

    def tone_for(self, category_tone: str) -> str:
        return self.tone or category_tone or TONES[0]


def resolve(requested: Mapping[str, Any] | None) -> Options:
    """The options in force: the request's (a ticket's stored `options`, or a workflow call's) under the
    deployment's switches. Unknown keys and values are ignored (the API validates what callers send)."""
    requested = requested or {}
    tone = str(requested.get("tone") or "")
    return Options(
        tone=tone if tone in TONES else "",
        reply=settings.REPLY_GENERATION and requested.get("reply", True) is not False,
        extract=settings.ENTITY_EXTRACTION and requested.get("extract", True) is not False,
    )
