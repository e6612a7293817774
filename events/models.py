"""Events out: the outbox (one row per change, written in the change's own transaction), webhook
subscriptions, and one delivery row per (event, subscription) with its attempts.

This module depends only on `tickets.models`, so that the flows lower in the stack (`tickets.services`,
`tickets.workflow`, `classification.services`) can write outbox rows through `events.outbox` without an
import cycle. What reads tickets the way the API shows them (the relay, the delivery, the API) lives above,
in `events.services`, `events.delivery` and `events.api`."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tickets.models import Ticket

# The version of every event's contract (`schema_version`, and the JSON Schemas of events.schemas).
# A change a receiver could notice (a field removed or renamed, a type changed) raises it.
SCHEMA_VERSION = 1


class EventType(models.TextChoices):
    """Every event type we emit: the one place to add one. `incident.opened` and `analysis.completed`
    join here when the incidents and analysis features land: add the value, its JSON Schema in
    events.schemas.DATA_SCHEMAS, and an `outbox.record` call in the transaction of the change."""

    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_CLASSIFIED = "ticket.classified", "Ticket classified"
    TICKET_CORRECTED = "ticket.corrected", "Ticket corrected by a person"
    TICKET_RESOLVED = "ticket.resolved", "Ticket resolved"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class Event(models.Model):
    """The outbox: one row per change, written in the same transaction as the change. The relay
    (events.services.relay_events) turns undispatched rows into deliveries; `payload` is frozen then, so
    every attempt and every redelivery of an event sends the same body."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # What the event records of the change itself (a classification's fields, who corrected), beside the ticket.
    detail = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveSmallIntegerField(default=SCHEMA_VERSION)
    created = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            # The relay: WHERE dispatched_at IS NULL ORDER BY created (a small partial index).
            models.Index(fields=["created"], name="event_undispatched_idx", condition=Q(dispatched_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, help_text="Receives a signed POST per event.")
    events = models.JSONField(default=list, help_text="The event types wanted (see events.models.EventType).")
    categories = models.JSONField(
        default=list, blank=True, help_text="Only tickets of these categories (empty: every category)."
    )
    secret = models.CharField(max_length=100, default=new_secret, help_text="Signs each body (HMAC-SHA256).")
    active = models.BooleanField(default=True)
    # Failed attempts since the last success, and since when: past both thresholds the subscription is disabled.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str, category: str) -> bool:
        """Whether this subscription takes an event of this type about a ticket of this category
        (a category filter takes nothing for a ticket not classified yet)."""
        if event_type not in self.events:
            return False
        return not self.categories or category in self.categories


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Gave up"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    """A delivery's state machine, the only code that writes its `status`:

        pending --claim--> (claimed) --succeeded--> succeeded
           ^                   '-------failed-----> pending (due later) | failed (given up)
           '--------------------redeliver---------- any

    Each transition is one conditional UPDATE; a claim is identified by its `claimed_at`, so a late writer
    whose claim went stale and was taken over changes nothing."""

    def claim(self, *, now: datetime, stale_before: datetime) -> int:
        claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale_before)
        return self.filter(claimable, status=DeliveryStatus.PENDING).update(claimed_at=now)

    def release(self, *, claimed_at: datetime) -> int:
        return self.filter(claimed_at=claimed_at).update(claimed_at=None, queued_at=None)

    def succeed(self, *, claimed_at: datetime, now: datetime, code: int | None, latency_ms: int) -> int:
        return self.filter(claimed_at=claimed_at).update(
            status=DeliveryStatus.SUCCEEDED,
            attempts=models.F("attempts") + 1,
            response_code=code,
            error="",
            latency_ms=latency_ms,
            delivered_at=now,
            claimed_at=None,
            queued_at=None,
        )

    def fail(
        self,
        *,
        claimed_at: datetime,
        attempts: int,
        give_up: bool,
        retry_at: datetime,
        code: int | None,
        error: str,
        latency_ms: int,
    ) -> int:
        return self.filter(claimed_at=claimed_at).update(
            status=DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING,
            attempts=attempts,
            response_code=code,
            error=error[:500],
            latency_ms=latency_ms,
            next_attempt_at=retry_at,
            claimed_at=None,
            queued_at=None,
        )

    def redeliver(self, *, now: datetime) -> int:
        """Pending again and due at once, whatever the status (a person asked)."""
        return self.update(status=DeliveryStatus.PENDING, next_attempt_at=now, queued_at=None, claimed_at=None)

    def due(self, *, now: datetime, stale_before: datetime) -> DeliveryQuerySet:
        """Pending, due, for an active subscription, and no message out for it (or one lost long ago)."""
        return self.filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=stale_before),
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            subscription__active=True,
        )


class Delivery(models.Model):
    """One event for one subscription: its attempts so far and the last answer. A pending delivery is
    published by the relay once due (`next_attempt_at`), claimed by the task that sends it, and either
    delivered or scheduled again with a longer wait, for EVENTS_RETRY_FOR_SECONDS at most."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Published to the broker at (the relay does not publish it again until this goes stale).
    queued_at = models.DateTimeField(null=True, blank=True)
    # Claimed by a delivery task at (a claim older than EVENTS_CLAIM_STALE_SECONDS belonged to a dead worker).
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # The relay may see an event twice (a crash before it marked it dispatched): one delivery each.
            models.UniqueConstraint(fields=["subscription", "event"], name="delivery_unique_event_per_subscription"),
        ]
        indexes = [
            # The relay's due deliveries: WHERE status = 'pending' AND next_attempt_at <= now.
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_due_idx", condition=Q(status=DeliveryStatus.PENDING)
            ),
            # A subscription's delivery log, newest first.
            models.Index(fields=["subscription", "-created"], name="delivery_subscription_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"
