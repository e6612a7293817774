"""Thin Celery tasks for similar tickets, duplicates and incidents."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from incidents import services


@shared_task(
    name="incidents.process_classified",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=10,
)
def process_classified_task(ticket_ids: list[int]) -> None:
    """Published by the classification task for the tickets it classified (by this name: classification
    imports nothing from incidents). Idempotent: a redelivery stores the same links and joins nothing twice."""
    services.process_classified(list(ticket_ids))
