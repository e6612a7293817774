"""Synchronous triage for the workflow endpoints (/api/v1/workflow/…): the worker's chain on a text the
caller sends, answered within WORKFLOW_TIMEOUT_SECONDS, nothing stored unless `/process/` asks to store the
ticket with its answer. The chain itself (LLM through the breaker, then the fallbacks) is services'."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from classification import llm, services
from classification.models import Classification
from events import outbox
from events.models import EventType
from tickets.models import INPUT_FIELDS, Status, Ticket

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """The chain's outcome for one text, and how long the caller waited for it."""

    outcome: services.Outcome
    elapsed_ms: int


def _unsaved_ticket(values: Mapping[str, Any]) -> Ticket:
    return Ticket(**{key: values[key] for key in INPUT_FIELDS if key in values})


def triage(values: Mapping[str, Any], given: llm.Given | None = None) -> Answer:
    """Run the chain on `values` (a ticket's input fields, `options` included) within the bound."""
    started = time.perf_counter()
    ticket = _unsaved_ticket(values)
    outcome = services.run_chain_within(ticket, settings.WORKFLOW_TIMEOUT_SECONDS, given)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    logger.info(
        "workflow triage: source=%s category=%s reason=%s in %d ms",
        outcome.source,
        outcome.category,
        outcome.fallback_reason or "-",
        elapsed_ms,
    )
    return Answer(outcome, elapsed_ms)


def store(values: Mapping[str, Any], outcome: services.Outcome) -> tuple[Ticket, bool]:
    """Save the ticket with its answer already attached: classified, with its history row, no task queued.
    A ticket re-sent with the same channel and external id returns the stored one and saves nothing.
    A keyword answer given because the LLM was out is picked up by the recovery like any other."""
    ticket = _unsaved_ticket(values)
    now = timezone.now()
    ticket.created = ticket.status_changed = ticket.classified_at = ticket.first_classified_at = now
    ticket.status, ticket.attempts = Status.CLASSIFIED, 1
    for name, value in services.current_fields(ticket, outcome).items():
        setattr(ticket, name, value)
    try:
        with transaction.atomic():
            ticket.save(force_insert=True)
            row = Classification.objects.create(ticket=ticket, created=now, **outcome.row_fields())
            services.save_citations([(row, outcome.citations)])
            outbox.record(EventType.TICKET_CREATED, [ticket.pk], now=now)
            outbox.record(EventType.TICKET_CLASSIFIED, [ticket.pk], [services.event_detail(outcome)], now=now)
    except IntegrityError:
        existing = Ticket.objects.filter(channel=ticket.channel, external_id=ticket.external_id).first()
        if not ticket.external_id or existing is None:
            raise
        return existing, False
    logger.info("ticket %s received classified (%s, workflow)", ticket.pk, ticket.channel)
    return ticket, True
