"""Thin Celery tasks for similar tickets, duplicates and incidents."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from incidents import services
from supportintel import publishing

logger = logging.getLogger(__name__)

# A deferred chunk's message goes back to the broker within this long, or the chunk runs now.
REPUBLISH_TIMEOUT_SECONDS = 5.0


@shared_task(
    name="incidents.process_classified",
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def process_classified_task(task: Any, ticket_ids: list[int], waiting_since: float | None = None) -> None:
    """Published by the classification task for the tickets it classified (by this name: classification
    imports nothing from incidents). While classification has a backlog it is published again with a countdown
    (`services.yields_to_classification`, bounded). Idempotent: a redelivery stores the same links and joins
    nothing twice."""
    now = time.time()
    since = waiting_since or now
    if services.yields_to_classification(since, now):
        if waiting_since is None:
            logger.info("tickets %s: similarity waits for the classification backlog", ticket_ids[:10])
        try:
            publishing.call(
                lambda: task.apply_async(
                    (ticket_ids,), {"waiting_since": since}, countdown=settings.SIMILARITY_YIELD_STEP_SECONDS
                ),
                what=f"deferring similarity for {len(ticket_ids)} tickets",
                timeout=REPUBLISH_TIMEOUT_SECONDS,
            )
            return
        except publishing.BrokerUnavailable:
            logger.warning("tickets %s: similarity not deferred (broker unavailable), run now", ticket_ids[:10])
    services.process_classified(list(ticket_ids))
