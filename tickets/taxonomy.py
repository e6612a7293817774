"""Choices that come from the taxonomy, for forms and filters. Reads Category rows through the app
registry, so `tickets` keeps no import of `classification`."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings


def _categories():
    return apps.get_model("classification", "Category").objects.order_by("position", "slug")


def category_choices() -> list[tuple[str, str]]:
    return [(c.slug, c.name) for c in _categories()]


def active_category_choices() -> list[tuple[str, str]]:
    return [(c.slug, c.name) for c in _categories().filter(active=True)]


def team_choices() -> list[tuple[str, str]]:
    teams = set(_categories().values_list("team", flat=True)) | {settings.ESCALATION_TEAM}
    return [(team, team) for team in sorted(teams)]
