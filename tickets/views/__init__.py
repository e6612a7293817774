from __future__ import annotations

from tickets.views.bulk import bulk
from tickets.views.create import create
from tickets.views.detail import (
    assign,
    change_state,
    classification_fragment,
    correct,
    detail,
    reclassify,
    retry,
    work_fragment,
)
from tickets.views.export import export_csv
from tickets.views.lists import arrivals, failed, needs_review, retry_all_failed, ticket_list, ticket_row
from tickets.views.me import me
from tickets.views.overview import breaker_badge, charts_fragment, overview, stats_fragment
from tickets.views.saved import delete_view, save_view

__all__ = [
    "arrivals",
    "assign",
    "breaker_badge",
    "bulk",
    "change_state",
    "charts_fragment",
    "classification_fragment",
    "correct",
    "create",
    "delete_view",
    "detail",
    "export_csv",
    "failed",
    "me",
    "needs_review",
    "overview",
    "reclassify",
    "retry",
    "retry_all_failed",
    "save_view",
    "stats_fragment",
    "ticket_list",
    "ticket_row",
    "work_fragment",
]
