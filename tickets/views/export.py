from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit import services as audit
from audit.models import Action
from supportintel.http import AuthenticatedHttpRequest
from tickets.forms import ListOptionsForm
from tickets.views.common import agent_required
from tickets.views.lists import list_filters

# The list's columns, then the classification's: (header, field or lookup).
COLUMNS = [
    ("id", "id"),
    ("received", "created"),
    ("subject", "subject"),
    ("customer_name", "customer_name"),
    ("customer_email", "customer_email"),
    ("channel", "channel"),
    ("status", "status"),
    ("state", "state"),
    ("assignee", "assignee__username"),
    ("due", "due_at"),
    ("category", "category"),
    ("priority", "priority"),
    ("sentiment", "sentiment"),
    ("risk", "risk"),
    ("source", "classification_source"),
    ("fallback_reason", "fallback_reason"),
    ("confidence", "confidence"),
    ("team", "team"),
    ("summary", "summary"),
    ("classified", "classified_at"),
]
# Rows fetched per round trip while streaming.
CHUNK = 2000
# A spreadsheet runs a cell that starts with one of these as a formula: such cells get a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """csv.writer writes to this; each row comes back as the text to stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


@require_GET
@agent_required()
def export_csv(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The list as filtered, as CSV: streamed in chunks (memory stays flat), at most EXPORT_MAX_ROWS tickets;
    a filter that matches more is refused with a page saying to narrow it. Recorded in the audit log."""
    filters = list_filters(request, request.GET)
    options = ListOptionsForm(request.GET)
    if not filters.is_valid() or not options.is_valid():
        return render(request, "tickets/export_refused.html", {"reason": "These filters are not valid."}, status=400)
    queryset = filters.qs.order_by(*options.ordering())
    limit = settings.EXPORT_MAX_ROWS
    if queryset[limit : limit + 1].exists():
        reason = (
            f"More than {limit:,} tickets match; narrow the filters (for example by received date) and export again."
        )
        return render(request, "tickets/export_refused.html", {"reason": reason}, status=400)
    # Sliced too: tickets arriving after the check above do not take the stream past the limit.
    rows = queryset.values_list(*(lookup for _, lookup in COLUMNS))[:limit]
    query = request.GET.urlencode()
    audit.record(
        Action.TICKETS_EXPORTED, actor=request.user, target="tickets", detail={"query": query}, request=request
    )
    writer = csv.writer(_Echo())

    def stream() -> Iterator[str]:
        yield writer.writerow([header for header, _ in COLUMNS])
        for row in rows.iterator(chunk_size=CHUNK):
            yield writer.writerow([_cell(value) for value in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="tickets-{stamp}.csv"'
    return response
