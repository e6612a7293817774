"""Thin Celery tasks for specialist resolution drafts."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from resolutions import services


@shared_task(
    name="resolutions.draft_resolutions",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def draft_resolutions_task(ticket_ids: list[int]) -> None:
    """Published by the classification task for the tickets it classified (by this name: classification
    imports nothing from resolutions). Idempotent: a redelivery finds each classification drafted (or being
    drafted) and makes no second LLM call. The tickets it has no time left for go to a new message."""
    # No ticket is started later than one LLM call (and a margin) before the soft time limit.
    deadline = time.monotonic() + max(settings.CELERY_TASK_SOFT_TIME_LIMIT - settings.LLM_TIMEOUT_SECONDS - 5, 1)
    rest = services.draft_resolutions(list(ticket_ids), deadline=deadline)
    if rest:
        draft_resolutions_task.apply_async(args=(rest,))
