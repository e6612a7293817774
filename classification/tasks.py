"""Thin Celery tasks: each calls one service function. Tasks take ids and store results in the database."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import DatabaseError

from classification import services
from supportintel import publishing
from supportintel.outages import OutageLog
from tickets.models import Ticket

logger = logging.getLogger(__name__)


# A sweep publishes at most this many batches (services.SWEEP_BATCH_SIZE each) per run, so a run stays
# short after a long outage; a batch may take this long to publish (no request is waiting on it).
SWEEP_MAX_BATCHES = 10
SWEEP_PUBLISH_TIMEOUT_SECONDS = 15.0

# One traceback per outage and process; Celery's own "retry" line records each failed attempt.
_database = OutageLog(logger, "database")


def _retry_delay(retries: int) -> float:
    # Exponential, capped low: during a database outage every ticket is retried at least every
    # CLASSIFY_RETRY_MAX_DELAY_SECONDS, so the backlog moves within that long of the database's return.
    delay = min(2.0**retries, settings.CLASSIFY_RETRY_MAX_DELAY_SECONDS)
    return delay * random.uniform(0.5, 1.0)


class ClassifyTask(DjangoTask):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Called once retries are spent (or for an error not worth retrying): the ticket ends failed
        # with its error visible, ready for a retry from the dashboard, the API or admin.
        ticket_id = args[0] if args else kwargs.get("ticket_id")
        services.mark_failed(ticket_id, f"{type(exc).__name__}: {exc}")


@shared_task(
    name="classification.classify_ticket",
    base=ClassifyTask,
    bind=True,
    acks_late=True,
    max_retries=settings.CLASSIFY_MAX_RETRIES,
)
def classify_ticket_task(self: ClassifyTask, ticket_id: int, force: bool = False) -> None:
    # Only infrastructure (database) errors are retried; LLM failures are answered by the keyword fallback.
    # The message's id is the claim token, so a retry of this message takes its own claim back at once.
    try:
        services.classify_ticket(ticket_id, force=force, claim_token=self.request.id or "")
    except DatabaseError as exc:
        _database.failed(f"classifying ticket {ticket_id}", exc, log_each=False)
        raise self.retry(exc=exc, countdown=_retry_delay(self.request.retries)) from exc
    _database.ok()


def publish_classification(ticket_ids: Sequence[int], *, force: bool = False, timeout: float | None = None) -> int:
    """Publish one classification message per ticket, within the broker deadline (supportintel.publishing).
    Tickets whose message did not go out stay `queued`, flagged for the next sweep. Returns how many went."""
    ids = list(ticket_ids)
    kwargs = {"force": True} if force else {}
    sent: list[int] = []

    def send() -> None:
        for ticket_id in ids:
            classify_ticket_task.apply_async(args=(ticket_id,), kwargs=kwargs)
            sent.append(ticket_id)

    try:
        publishing.call(send, what=f"publishing {len(ids)} classification message(s)", timeout=timeout)
    except publishing.BrokerUnavailable:
        # What the broker thread has not confirmed by now counts as unsent; should it still go out, the
        # sweep sends a second message and the claim makes that one a no-op.
        unsent = ids[len(sent) :]
        Ticket.objects.filter(pk__in=unsent).flag_unpublished()
        logger.info("%d of %d tickets left queued for the sweep (broker unavailable)", len(unsent), len(ids))
    return len(sent)


@shared_task(name="classification.sweep_stuck_tickets", ignore_result=True)
def sweep_stuck_tickets_task() -> None:
    try:
        _sweep()
    except DatabaseError as exc:
        _database.failed("sweep", exc)  # the next run sweeps
    else:
        _database.ok()


def _sweep() -> None:
    try:
        if publishing.broker_lost_messages():
            flagged = services.flag_queued_for_publishing()
            logger.warning("sweep: the broker lost its messages; %d queued tickets will be published again", flagged)
    except publishing.BrokerUnavailable:
        return  # nothing can be published now; the next run tries again
    for _ in range(SWEEP_MAX_BATCHES):
        ids = services.find_stuck_tickets()
        if not ids:
            return
        logger.info("sweep: re-publishing %d stuck tickets", len(ids))
        if publish_classification(ids, timeout=SWEEP_PUBLISH_TIMEOUT_SECONDS) < len(ids):
            return


@shared_task(name="classification.recover_outage_tickets", ignore_result=True)
def recover_outage_tickets_task() -> None:
    try:
        ids = services.requeue_outage_tickets(settings.LLM_RECOVERY_BATCH_SIZE)
    except DatabaseError as exc:
        _database.failed("LLM recovery", exc)  # the next run recovers
        return
    if ids:
        logger.info("recovery: %d outage tickets sent back to the LLM", len(ids))
        publish_classification(ids)
