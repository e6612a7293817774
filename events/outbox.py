"""Writing outbox rows: the one function the flows call, inside the transaction of the change they report.

Imports only events.models (which imports only tickets.models): tickets.services, tickets.workflow and
classification.services call it without an import cycle. No signals: each flow calls it where it commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from events.models import Event, EventType


def record(
    event_type: EventType,
    ticket_ids: Sequence[int],
    details: Sequence[dict[str, Any]] | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """One outbox row per ticket, in one INSERT, in the caller's transaction: the event exists exactly when
    the change does. `details[i]` is what the event records of ticket `ticket_ids[i]`'s change."""
    if not ticket_ids:
        return 0
    now = now or timezone.now()
    details = details or [{} for _ in ticket_ids]
    rows = [
        Event(type=event_type, ticket_id=pk, detail=detail, created=now)
        for pk, detail in zip(ticket_ids, details, strict=True)
    ]
    Event.objects.bulk_create(rows, batch_size=500)
    return len(rows)
