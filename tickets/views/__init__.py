from __future__ import annotations

from tickets.views.create import create
from tickets.views.detail import classification_fragment, correct, detail, reclassify, retry
from tickets.views.lists import failed, needs_review, retry_all_failed, ticket_list, ticket_row
from tickets.views.overview import breaker_badge, charts_fragment, overview, stats_fragment

__all__ = [
    "breaker_badge",
    "charts_fragment",
    "classification_fragment",
    "correct",
    "create",
    "detail",
    "failed",
    "needs_review",
    "overview",
    "reclassify",
    "retry",
    "retry_all_failed",
    "stats_fragment",
    "ticket_list",
    "ticket_row",
]
