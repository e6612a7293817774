"""Ticket write flows shared by the API, the dashboard, admin and the seed command."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from classification.tasks import publish_classification
from events import outbox
from events.models import EventType
from tickets.models import INPUT_FIELDS, Status, Ticket

logger = logging.getLogger(__name__)

# External ids looked up per query when checking for tickets already received.
_LOOKUP_CHUNK = 500


def enqueue_classification(ticket_ids: Sequence[int], *, force: bool = False) -> None:
    """Publish classification after the surrounding transaction commits. If the broker is down the
    tickets stay `queued` and the periodic sweep publishes them later; the request still succeeds."""
    ids = list(ticket_ids)
    if not ids:
        return

    # A named function, not functools.partial: robust on_commit logs a failing hook by its __qualname__.
    def publish_after_commit() -> None:
        publish_classification(ids, force=force)

    transaction.on_commit(publish_after_commit, robust=True)


def _existing(channel: str, external_id: str) -> Ticket | None:
    if not external_id:
        return None
    return Ticket.objects.filter(channel=channel, external_id=external_id).first()


def create_ticket(data: dict[str, Any]) -> tuple[Ticket, bool]:
    """Save one ticket and enqueue its classification. Returns (ticket, created); a ticket re-sent
    with the same external id returns the existing one and creates nothing."""
    values = {key: data[key] for key in INPUT_FIELDS if key in data}
    if values.get("external_id"):
        return _create_unless_received(values)
    # Nothing to look up first: the ticket's INSERT and its outbox row's, committed together (or with the
    # caller's transaction), and the publish right after (on_commit runs at once outside a transaction).
    # No savepoint inside a caller's transaction: nothing here recovers from a failed INSERT.
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.create(**values)
        outbox.record(EventType.TICKET_CREATED, [ticket.pk], now=ticket.created)
    _received(ticket)
    return ticket, True


def _received(ticket: Ticket) -> None:
    enqueue_classification([ticket.pk])
    logger.info("ticket %s received (%s)", ticket.pk, ticket.channel)


@transaction.atomic
def _create_unless_received(values: dict[str, Any]) -> tuple[Ticket, bool]:
    existing = _existing(values.get("channel", "api"), values["external_id"])
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(**values)
            outbox.record(EventType.TICKET_CREATED, [ticket.pk], now=ticket.created)
    except IntegrityError:
        # Another request saved the same external id between our check and our insert.
        existing = _existing(values.get("channel", "api"), values["external_id"])
        if existing is None:
            raise
        return existing, False
    _received(ticket)
    return ticket, True


def _known_tickets(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Ticket]:
    """The tickets already received under these (channel, external id) keys: one `IN` per channel and
    chunk, never one OR per key (SQLite refuses expression trees deeper than 1,000)."""
    by_channel: dict[str, list[str]] = {}
    for channel, external_id in keys:
        by_channel.setdefault(channel, []).append(external_id)
    known: dict[tuple[str, str], Ticket] = {}
    for channel, external_ids in by_channel.items():
        for start in range(0, len(external_ids), _LOOKUP_CHUNK):
            chunk = external_ids[start : start + _LOOKUP_CHUNK]
            for ticket in Ticket.objects.filter(channel=channel, external_id__in=chunk):
                known[(ticket.channel, ticket.external_id)] = ticket
    return known


def _split_duplicates(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, Ticket]]:
    known = _known_tickets({(row.get("channel", "api"), row["external_id"]) for row in rows if row.get("external_id")})
    new_rows: list[dict[str, Any]] = []
    duplicates: dict[int, Ticket] = {}
    seen: set[tuple[str, str]] = set()
    for index, row in enumerate(rows):
        key = (row.get("channel", "api"), row.get("external_id", ""))
        if key[1] and key in known:
            duplicates[index] = known[key]
        elif key[1] and key in seen:
            continue  # the same external id twice in one request: the first one wins
        else:
            if key[1]:
                seen.add(key)
            new_rows.append(row)
    return new_rows, duplicates


@transaction.atomic
def create_tickets_bulk(rows: Sequence[dict[str, Any]]) -> tuple[list[Ticket], list[Ticket]]:
    """Save many validated tickets in one transaction (all or nothing) and enqueue the new ones.
    A row may say when it was received (`created`, an import of past tickets); otherwise now.
    Returns (created, duplicates)."""
    new_rows, duplicates = _split_duplicates(rows)
    now = timezone.now()
    tickets = [
        Ticket(
            **{key: row[key] for key in INPUT_FIELDS if key in row}, created=row.get("created", now), status_changed=now
        )
        for row in new_rows
    ]
    created = Ticket.objects.bulk_create(tickets, batch_size=500)
    outbox.record(EventType.TICKET_CREATED, [t.pk for t in created], now=now)
    enqueue_classification([t.pk for t in created])
    return created, list(duplicates.values())


def requeue_tickets(
    ticket_ids: Iterable[int], *, force: bool = False, only_failed: bool = False, actor: User | None = None
) -> int:
    """Send tickets back for classification (reclassify, retry). A ticket being classified right now
    is left alone. Returns how many were queued. With an `actor`, the audit log records who asked."""
    allowed = [Status.FAILED] if only_failed else [Status.FAILED, Status.CLASSIFIED, Status.QUEUED]
    with transaction.atomic():
        ids = list(
            Ticket.objects.select_for_update()
            .filter(pk__in=list(ticket_ids), status__in=allowed)
            .values_list("pk", flat=True)
        )
        Ticket.objects.filter(pk__in=ids).requeue(from_statuses=allowed, clear_error=True)
        enqueue_classification(ids, force=force)
        if actor is not None and ids:
            target, detail = audit.tickets_target(ids)
            action = Action.TICKET_RETRIED if only_failed else Action.TICKET_RECLASSIFIED
            audit.record(action, actor=actor, target=target, detail={**detail, "force": force})
    logger.info("requeued %d tickets (force=%s)", len(ids), force)
    return len(ids)
