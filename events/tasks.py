"""Thin Celery tasks for events out: the relay (beat) and one delivery per message on the `events` queue."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import shared_task
from django.db import DatabaseError

from events import delivery, services
from events.models import Delivery
from supportintel import publishing

logger = logging.getLogger(__name__)

# A relay run waits this long at most for the broker (no request waits on it).
PUBLISH_TIMEOUT_SECONDS = 15.0


@shared_task(name="events.deliver", acks_late=True, ignore_result=True)
def deliver_task(delivery_id: int) -> None:
    # Idempotent: the claim makes a duplicate message, or a redelivered one, a no-op while another task
    # holds the delivery, and once it is delivered.
    delivery.deliver(delivery_id)


def publish_deliveries(delivery_ids: Sequence[int], *, timeout: float | None = None) -> int:
    """Publish one message per delivery. Those the broker did not take are published again by a later
    relay run, once their `queued_at` goes stale."""
    sent = 0

    def send() -> None:
        nonlocal sent
        for delivery_id in delivery_ids:
            deliver_task.apply_async(args=(delivery_id,))
            sent += 1

    try:
        publishing.call(send, what=f"publishing {len(delivery_ids)} webhook deliveries", timeout=timeout)
    except publishing.BrokerUnavailable:
        unsent = list(delivery_ids)[sent:]
        Delivery.objects.filter(pk__in=unsent).update(queued_at=None)  # the next relay run publishes them
        logger.info(
            "%d of %d deliveries left for the next relay run (broker unavailable)", len(unsent), len(delivery_ids)
        )
    return sent


@shared_task(name="events.relay", ignore_result=True)
def relay_events_task() -> None:
    """Outbox rows into deliveries, then every due delivery (new, retried, or lost with its worker) published."""
    try:
        relayed = services.relay_events()
        due = services.due_deliveries()
    except DatabaseError as exc:
        logger.warning("events relay: database unavailable (%s); the next run relays", exc)
        return
    if relayed or due:
        logger.info("events relay: %d events dispatched, %d deliveries published", relayed, len(due))
    if due:
        publish_deliveries(due, timeout=PUBLISH_TIMEOUT_SECONDS)


@shared_task(name="events.prune", ignore_result=True)
def prune_events_task() -> None:
    deleted = services.prune()
    if deleted:
        logger.info("events: %d old outbox rows and deliveries pruned", deleted)
