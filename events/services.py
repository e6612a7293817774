"""Events out: the relay from the outbox to deliveries, payloads, redelivery and subscription changes.

At-least-once: an outbox row is written in the change's transaction; the relay (a beat task) turns it into
one delivery per matching subscription and marks it dispatched in one transaction; each delivery is retried
until its receiver answers 2xx or EVENTS_RETRY_FOR_SECONDS pass. A crash anywhere repeats a step, never
skips one, so a receiver may see an event twice (same `id`) and never misses one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from events.models import Delivery, DeliveryStatus, Event, WebhookSubscription
from tickets.api.serializers import TicketSerializer
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# Outbox rows turned into deliveries per transaction, and transactions per relay run (a run stays short
# after a long pause; the next run takes the rest).
RELAY_BATCH_SIZE = 500
RELAY_MAX_BATCHES = 20
# Due deliveries published per relay run.
PUBLISH_BATCH_SIZE = 2000


def payload(event: Event, ticket: Ticket | None) -> dict[str, Any]:
    """The JSON body every attempt of this event sends (events.schemas describes it)."""
    ticket_data = dict(TicketSerializer(ticket).data) if ticket is not None else None
    return {
        "id": str(event.id),
        "type": event.type,
        "time": event.created.isoformat().replace("+00:00", "Z"),
        "schema_version": event.schema_version,
        "data": {"ticket": ticket_data, **event.detail},
    }


def _category(event: Event, ticket: Ticket | None) -> str:
    classification = event.detail.get("classification") or {}
    return str(classification.get("category") or (ticket.category if ticket is not None else ""))


def _relay_batch(subscriptions: list[WebhookSubscription], now: datetime) -> int:
    with transaction.atomic():
        undispatched = Event.objects.filter(dispatched_at__isnull=True).order_by("created")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            undispatched = undispatched.select_for_update(skip_locked=True)  # two relays split the rows
        events = list(undispatched[:RELAY_BATCH_SIZE])
        if not events:
            return 0
        ticket_ids = {e.ticket_id for e in events if e.ticket_id is not None}
        tickets = Ticket.objects.select_related("assignee", "state_changed_by").in_bulk(ticket_ids)
        deliveries: list[Delivery] = []
        framed: list[Event] = []
        for event in events:
            ticket = tickets.get(event.ticket_id) if event.ticket_id is not None else None
            wanted = [s for s in subscriptions if s.wants(event.type, _category(event, ticket))]
            if wanted:
                event.payload = payload(event, ticket)
                framed.append(event)
                deliveries += [Delivery(subscription=s, event=event, next_attempt_at=now, created=now) for s in wanted]
        if framed:
            Event.objects.bulk_update(framed, ["payload"], batch_size=200)
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=500)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
    return len(events)


def relay_events() -> int:
    """Turn undispatched outbox rows into deliveries for the active subscriptions that want them. Returns
    how many events were dispatched."""
    subscriptions = list(WebhookSubscription.objects.filter(active=True))
    total = 0
    for _ in range(RELAY_MAX_BATCHES):
        done = _relay_batch(subscriptions, timezone.now())
        total += done
        if done < RELAY_BATCH_SIZE:
            break
    return total


def _stale(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.EVENTS_CLAIM_STALE_SECONDS)


def due_deliveries(now: datetime | None = None) -> list[int]:
    """Pending deliveries whose time has come and that no message is waiting for (never published, or
    published longer ago than a claim lives: the message or its worker was lost). Marked queued now."""
    now = now or timezone.now()
    due = Delivery.objects.due(now=now, stale_before=_stale(now))
    with transaction.atomic():
        ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:PUBLISH_BATCH_SIZE])
        Delivery.objects.filter(pk__in=ids).update(queued_at=now)
    return ids


def redeliver(delivery_ids: Sequence[int], *, actor: User | None = None) -> int:
    """Send deliveries again now, whatever their status (a person asked): pending again, due at once. The
    event keeps its id and body. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        changed = Delivery.objects.filter(pk__in=list(delivery_ids)).redeliver(now=now)
        if changed and actor is not None:
            audit.record(
                Action.WEBHOOK_REDELIVERED,
                actor=actor,
                target=f"deliveries:{changed}",
                detail={"delivery_ids": list(delivery_ids)[:100]},
            )
    return changed


def reactivate(subscription: WebhookSubscription) -> None:
    """Turned on again (admin or API): its failure count starts over and its reason is cleared."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=True, consecutive_failures=0, failing_since=None, disabled_reason="", disabled_at=None
    )


def prune(now: datetime | None = None) -> int:
    """Outbox rows (and their deliveries) older than EVENTS_RETENTION_DAYS, once none is pending."""
    before = (now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    old = Event.objects.filter(created__lt=before, dispatched_at__isnull=False).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    deleted, _ = Event.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:10_000])).delete()
    return deleted
