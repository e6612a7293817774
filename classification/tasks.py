"""Thin Celery tasks: each calls one service function. Tasks take ids and store results in the database."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import DatabaseError
from kombu.exceptions import OperationalError

from classification import services

logger = logging.getLogger(__name__)


class ClassifyTask(DjangoTask):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Called once retries are spent (or for an error not worth retrying): the ticket ends failed
        # with its error visible, ready for a retry from the dashboard, the API or admin.
        ticket_id = args[0] if args else kwargs.get("ticket_id")
        services.mark_failed(ticket_id, f"{type(exc).__name__}: {exc}")


@shared_task(
    name="classification.classify_ticket",
    base=ClassifyTask,
    acks_late=True,
    # Only infrastructure errors are retried; LLM failures are answered by the keyword fallback.
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=settings.CLASSIFY_MAX_RETRIES,
)
def classify_ticket_task(ticket_id: int, force: bool = False) -> None:
    services.classify_ticket(ticket_id, force=force)


def publish_classification(ticket_ids: Sequence[int], *, force: bool = False) -> int:
    """Publish one classification message per ticket. Stops at the first broker error: the rest stay
    `queued` and the sweep publishes them, so a dead broker costs one timeout, not one per ticket."""
    sent = 0
    kwargs = {"force": True} if force else {}
    for ticket_id in ticket_ids:
        try:
            classify_ticket_task.apply_async(args=(ticket_id,), kwargs=kwargs)
        except OperationalError:
            logger.warning(
                "broker unreachable: %d of %d tickets left queued for the sweep",
                len(ticket_ids) - sent,
                len(ticket_ids),
            )
            break
        sent += 1
    return sent


@shared_task(name="classification.sweep_stuck_tickets", ignore_result=True)
def sweep_stuck_tickets_task() -> None:
    ids = services.find_stuck_tickets()
    if ids:
        logger.info("sweep: re-publishing %d stuck tickets", len(ids))
        publish_classification(ids)


@shared_task(name="classification.recover_outage_tickets", ignore_result=True)
def recover_outage_tickets_task() -> None:
    ids = services.requeue_outage_tickets(settings.LLM_RECOVERY_BATCH_SIZE)
    if ids:
        logger.info("recovery: %d outage tickets sent back to the LLM", len(ids))
        publish_classification(ids)
