"""Choices that come from the taxonomy, for the dashboard's forms and the filters the API shares with it.

Dependencies point one way: ticket models at the bottom, classification above them (it imports
`tickets.models`), and the ticket UI and API (views, forms, filters, serializers) on top, importing both."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from classification.models import Category


def _categories() -> QuerySet[Category]:
    return Category.objects.order_by("position", "slug")


def category_choices() -> list[tuple[str, str]]:
    return [(c.slug, c.name) for c in _categories()]


def active_category_choices() -> list[tuple[str, str]]:
    return [(c.slug, c.name) for c in _categories().filter(active=True)]


def team_choices() -> list[tuple[str, str]]:
    teams = set(_categories().values_list("team", flat=True)) | {settings.ESCALATION_TEAM}
    return [(team, team) for team in sorted(teams)]


def routed_team(category: str, priority: str) -> str:
    """The team a ticket of this category and priority is routed to: escalation for critical tickets,
    otherwise the category's own ('' for a category the taxonomy does not know)."""
    if priority == "critical":
        return settings.ESCALATION_TEAM
    return _categories().filter(slug=category).values_list("team", flat=True).first() or ""


def category_labels() -> dict[str, str]:
    """Slug → name, for showing categories as the forms name them."""
    return dict(_categories().values_list("slug", "name"))
