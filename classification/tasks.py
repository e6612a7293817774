"""Thin Celery tasks: each calls one service function. Tasks take ids and store results in the database."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from celery import current_app, shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import DatabaseError

from classification import services
from classification.learned import training as learned_training
from supportintel import publishing
from supportintel.outages import OutageLog
from tickets.models import Ticket

logger = logging.getLogger(__name__)


# A sweep publishes at most this many batches (services.SWEEP_BATCH_SIZE each) per run, so a run stays
# short after a long outage; a batch may take this long to publish (no request is waiting on it).
SWEEP_MAX_BATCHES = 10
SWEEP_PUBLISH_TIMEOUT_SECONDS = 15.0
# A worker sending back the tickets it had no time for waits this long on the broker: no request is
# waiting, and a pool of busy threads slows the broker thread down.
WORKER_PUBLISH_TIMEOUT_SECONDS = 15.0

# One traceback per outage and process; Celery's own "retry" line records each failed attempt.
_database = OutageLog(logger, "database")


def _retry_delay(retries: int) -> float:
    # Exponential, capped low: during a database outage every ticket is retried at least every
    # CLASSIFY_RETRY_MAX_DELAY_SECONDS, so the backlog moves within that long of the database's return.
    delay = min(2.0**retries, settings.CLASSIFY_RETRY_MAX_DELAY_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _ticket_ids(args: Any, kwargs: Any) -> list[int]:
    # Both tasks' first argument: one ticket id (classify_ticket) or a chunk of them (classify_tickets).
    first = args[0] if args else kwargs.get("ticket_ids", kwargs.get("ticket_id"))
    return [first] if isinstance(first, int) else list(first)


class ClassifyTask(DjangoTask):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Called once retries are spent (or for an error not worth retrying): the tickets not classified
        # by now end failed with the error visible, ready for a retry from the dashboard, the API or admin.
        services.mark_failed(_ticket_ids(args, kwargs), f"{type(exc).__name__}: {exc}")


def _deadline() -> float:
    # The threads pool ignores Celery's time limits, so the task keeps its own: it starts no ticket later
    # than the longest one may take (its LLM calls) before the soft limit, and hands the rest back.
    budget = settings.CELERY_TASK_SOFT_TIME_LIMIT - services.longest_llm_wait() - 5
    return time.monotonic() + max(budget, 1.0)


def _classify(task: ClassifyTask, ticket_ids: list[int], force: bool) -> None:
    # Only infrastructure (database) errors are retried; LLM failures are answered by the keyword fallback.
    # The message's id is the claim token, so a retry of this message takes its own claims back at once.
    try:
        result = services.classify_tickets(
            ticket_ids, force=force, claim_token=task.request.id or "", deadline=_deadline()
        )
    except DatabaseError as exc:
        _database.failed(f"classifying tickets {ticket_ids[:10]}", exc, log_each=False)
        raise task.retry(exc=exc, countdown=_retry_delay(task.request.retries)) from exc
    _database.ok()
    if result.released:
        publish_classification(result.released, force=force, timeout=WORKER_PUBLISH_TIMEOUT_SECONDS)
    classified = [row.ticket_id for row in result.classified]
    if settings.SIMILARITY_ENABLED and classified:
        _publish_followup(AFTER_CLASSIFICATION_TASK, classified, "similarity")
    if settings.RESOLUTION_ENABLED and classified:
        _publish_followup(RESOLUTION_TASK, classified, "resolution drafts")


# Similar tickets, duplicates and incidents: the incidents app's task, above this app, published by its name
# so that classification imports nothing from it.
AFTER_CLASSIFICATION_TASK = "incidents.process_classified"


# Specialist resolution drafts: the resolutions app's task, published by its name like the incidents' one.
RESOLUTION_TASK = "resolutions.draft_resolutions"


def _publish_followup(task_name: str, ticket_ids: list[int], what: str) -> None:
    """Publish another app's work on the tickets just classified (similar tickets, specialist drafts), by name.
    Classification stands whatever happens here: a message the broker does not take loses only that work for
    these tickets, never their classification."""
    try:
        publishing.call(
            lambda: current_app.send_task(task_name, args=(ticket_ids,)),
            what=f"publishing {what} for {len(ticket_ids)} tickets",
            timeout=WORKER_PUBLISH_TIMEOUT_SECONDS,
        )
    except publishing.BrokerUnavailable:
        logger.warning("tickets %s: %s not published (broker unavailable)", ticket_ids[:10], what)


@shared_task(
    name="classification.classify_tickets",
    base=ClassifyTask,
    bind=True,
    acks_late=True,
    max_retries=settings.CLASSIFY_MAX_RETRIES,
)
def classify_tickets_task(self: ClassifyTask, ticket_ids: list[int], force: bool = False) -> None:
    _classify(self, list(ticket_ids), force)


@shared_task(
    name="classification.classify_ticket",
    base=ClassifyTask,
    bind=True,
    acks_late=True,
    max_retries=settings.CLASSIFY_MAX_RETRIES,
)
def classify_ticket_task(self: ClassifyTask, ticket_id: int, force: bool = False) -> None:
    """One ticket per message: what was published before chunks (classify_tickets) existed."""
    _classify(self, [ticket_id], force)


def publish_classification(ticket_ids: Sequence[int], *, force: bool = False, timeout: float | None = None) -> int:
    """Publish classification messages, a chunk of CLASSIFY_CHUNK_SIZE tickets each, within the broker
    deadline (supportintel.publishing). Tickets whose message did not go out stay `queued`, flagged for
    the next sweep. Returns how many tickets went."""
    ids = list(ticket_ids)
    size = settings.CLASSIFY_CHUNK_SIZE
    kwargs = {"force": True} if force else {}
    sent: list[int] = []

    def send() -> None:
        for chunk in (ids[start : start + size] for start in range(0, len(ids), size)):
            classify_tickets_task.apply_async(args=(chunk,), kwargs=kwargs)
            sent.extend(chunk)

    try:
        publishing.call(send, what=f"publishing {len(ids)} tickets for classification", timeout=timeout)
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


@shared_task(name="classification.retrain_learned", ignore_result=True)
def retrain_learned_task() -> None:
    """Train a new version of the learned classifier once enough new human classifications arrived."""
    try:
        learned_training.retrain_if_due()
    except learned_training.TrainingError as exc:
        logger.warning("learned classifier not trained: %s", exc)  # the next run tries again
    except DatabaseError as exc:
        _database.failed("learned classifier training", exc)
