"""Shared by the data migrations that add default keyword terms (0009, 0012): only terms a category does not
hold yet are added, so an admin's own terms and weights are kept; going back removes exactly those terms.
A module of plain functions (no Migration class), imported by the migrations that use it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Terms = Mapping[str, Sequence[tuple[str, float]]]


def add_terms(apps: Any, terms_by_slug: Terms) -> None:
    Category = apps.get_model("classification", "Category")
    for slug, terms in terms_by_slug.items():
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            continue
        held = {entry.get("term") for entry in category.keywords if isinstance(entry, dict)}
        added = [{"term": term, "weight": weight} for term, weight in terms if term not in held]
        if added:
            category.keywords = [*category.keywords, *added]
            category.save(update_fields=["keywords", "updated"])


def remove_terms(apps: Any, terms_by_slug: Terms) -> None:
    Category = apps.get_model("classification", "Category")
    for slug, terms in terms_by_slug.items():
        ours = {term for term, _ in terms}
        for category in Category.objects.filter(slug=slug):
            category.keywords = [e for e in category.keywords if not (isinstance(e, dict) and e.get("term") in ours)]
            category.save(update_fields=["keywords", "updated"])
