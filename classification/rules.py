"""Builds the keyword rule set from the Category rows, and caches it until the taxonomy changes.

The cache key is the taxonomy's version stamp (latest `updated`, row count), read with one small
query. So an edit in admin, made in the web process, reaches every worker process on its next
classification without a restart or a shared cache; `invalidate()` also drops this process's copy
at once when a Category is saved here.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max

from classification.keywords import CategorySpec, RuleSet, compile_rules
from classification.keywords.info import DEFAULT_TONE
from classification.models import Category

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], RuleSet] | None = None


def _version() -> tuple[Any, ...]:
    stamp = Category.objects.filter(active=True).aggregate(latest=Max("updated"), n=Count("id"))
    return (stamp["latest"], stamp["n"])


def spec_from_entries(
    slug: str,
    team: str,
    keywords: list[dict[str, Any]],
    reply_template: str,
    required_info: list[str] | None = None,
    reply_tone: str = DEFAULT_TONE,
) -> CategorySpec:
    terms = [(entry["term"], float(entry.get("weight", 1.0))) for entry in keywords if isinstance(entry, dict)]
    return CategorySpec(
        slug=slug,
        team=team,
        terms=terms,
        reply_template=reply_template,
        required_info=tuple(required_info or ()),
        reply_tone=reply_tone or DEFAULT_TONE,
    )


def build_rules(specs: list[CategorySpec]) -> RuleSet:
    rules = compile_rules(specs, escalation_team=settings.ESCALATION_TEAM)
    for slug, term, reason in rules.skipped:
        logger.warning("skipping keyword %r of category %s: %s", term, slug, reason)
    return rules


def _specs_from_db() -> list[CategorySpec]:
    rows = Category.objects.filter(active=True).order_by("position", "slug")
    return [
        spec_from_entries(c.slug, c.team, c.keywords, c.reply_template, c.required_info, c.reply_tone) for c in rows
    ]


def current_rules() -> RuleSet:
    """The compiled rule set for the active taxonomy (rebuilt only when the taxonomy changed)."""
    global _cached
    version = _version()
    cached = _cached
    if cached is not None and cached[0] == version:
        return cached[1]
    with _lock:
        rules = build_rules(_specs_from_db())
        _cached = (version, rules)
    return rules


def invalidate() -> None:
    global _cached
    _cached = None


def load_taxonomy_file(path: Path) -> list[dict[str, Any]]:
    """A taxonomy JSON file: {"categories": [{"slug", "name", "team", "keywords", "reply_template"}]}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    categories = data["categories"] if isinstance(data, dict) else data
    return list(categories)


def rules_from_taxonomy(categories: list[dict[str, Any]]) -> RuleSet:
    specs = [
        spec_from_entries(
            c["slug"],
            c.get("team", c["slug"]),
            c.get("keywords", []),
            c.get("reply_template", ""),
            c.get("required_info", []),
            c.get("reply_tone", DEFAULT_TONE),
        )
        for c in categories
        if c.get("active", True)
    ]
    return build_rules(specs)


def taxonomy_from_db() -> list[dict[str, Any]]:
    return [
        {
            "slug": c.slug,
            "name": c.name,
            "description": c.description,
            "team": c.team,
            "keywords": c.keywords,
            "reply_template": c.reply_template,
            "required_info": c.required_info,
            "reply_tone": c.reply_tone,
            "active": c.active,
            "position": c.position,
        }
        for c in Category.objects.order_by("position", "slug")
    ]
