"""The ticket's pipeline state machine (TicketQuerySet): each transition changes only rows in the state it
starts from, and it is the only code that writes `status`."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tickets.models import Status, Ticket, WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_a_claim_is_won_once_and_a_stale_claim_can_be_taken_over():
    ticket = TicketFactory.create()
    stale_before = timezone.now() - timedelta(minutes=5)
    assert Ticket.objects.filter(pk=ticket.pk).claim(token="a", stale_before=stale_before) == 1
    assert Ticket.objects.filter(pk=ticket.pk).claim(token="b", stale_before=stale_before) == 0
    assert Ticket.objects.filter(pk=ticket.pk).claim(token="b", stale_before=timezone.now() + timedelta(seconds=1)) == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.claimed_by, ticket.attempts) == (Status.PROCESSING, "b", 2)


def test_completing_needs_the_claim_it_started_from():
    ticket = TicketFactory.create()
    Ticket.objects.filter(pk=ticket.pk).claim(token="a", stale_before=timezone.now())
    ticket.refresh_from_db()
    now = timezone.now()
    current = {ticket.pk: {"category": "billing"}}
    assert Ticket.objects.filter(pk=ticket.pk).complete(claimed_at=now, now=now, current=current) == 0
    assert Ticket.objects.filter(pk=ticket.pk).complete(claimed_at=ticket.status_changed, now=now, current=current) == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.category, ticket.classified_at, ticket.updated) == ("classified", "billing", now, now)


def test_completing_many_gives_each_ticket_its_own_fields_and_skips_lost_claims():
    ours, other, taken_over = TicketFactory.create_batch(3)
    claimed_at = timezone.now()
    ids = [ours.pk, other.pk, taken_over.pk]
    assert Ticket.objects.filter(pk__in=ids).claim(token="m", stale_before=claimed_at, now=claimed_at) == 3
    Ticket.objects.filter(pk=taken_over.pk).release(claimed_at=claimed_at)  # no longer ours
    now = timezone.now()
    current = {
        ours.pk: {"category": "billing", "risk": 0.25, "due_at": now},
        other.pk: {"category": "account", "risk": 0.75, "due_at": now + timedelta(hours=4)},
        taken_over.pk: {"category": "general", "risk": 0.5, "due_at": now},
    }
    assert Ticket.objects.complete(claimed_at=claimed_at, now=now, current=current) == 2
    assert Ticket.objects.filter(pk=other.pk).complete(claimed_at=claimed_at, now=now, current=current) == 0
    rows = {t.pk: t for t in Ticket.objects.filter(pk__in=ids)}
    assert (rows[ours.pk].status, rows[ours.pk].category, rows[ours.pk].risk) == ("classified", "billing", 0.25)
    assert (rows[other.pk].category, rows[other.pk].due_at, rows[other.pk].classified_at) == (
        "account",
        now + timedelta(hours=4),
        now,
    )
    assert (rows[taken_over.pk].status, rows[taken_over.pk].category) == ("queued", "")


def test_fail_leaves_a_classified_ticket_alone_and_requeue_only_takes_the_states_given():
    classified, queued = TicketFactory.create(classified=True), TicketFactory.create()
    assert Ticket.objects.filter(pk__in=[classified.pk, queued.pk]).fail("boom") == 1
    assert (
        Ticket.objects.filter(pk__in=[classified.pk, queued.pk]).requeue(
            from_statuses=[Status.FAILED], clear_error=True
        )
        == 1
    )
    queued.refresh_from_db()
    assert (queued.status, queued.last_error) == (Status.QUEUED, "")


def test_the_first_automatic_classification_is_stamped_once():
    ticket = TicketFactory.create()
    first = timezone.now()
    for now in (first, first + timedelta(minutes=5)):  # classified, then reclassified
        Ticket.objects.filter(pk=ticket.pk).requeue(from_statuses=[Status.QUEUED, Status.CLASSIFIED])
        Ticket.objects.filter(pk=ticket.pk).claim(token="t", stale_before=now)
        ticket.refresh_from_db()
        current = {ticket.pk: {"category": "billing"}}
        Ticket.objects.filter(pk=ticket.pk).complete(claimed_at=ticket.status_changed, now=now, current=current)
    ticket.refresh_from_db()
    assert ticket.first_classified_at == first and ticket.classified_at == first + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("start", "target", "moves"),
    [
        (WorkState.OPEN, WorkState.PENDING, True),
        (WorkState.OPEN, WorkState.RESOLVED, True),
        (WorkState.PENDING, WorkState.OPEN, True),
        (WorkState.PENDING, WorkState.RESOLVED, True),
        (WorkState.RESOLVED, WorkState.OPEN, True),  # reopened
        (WorkState.RESOLVED, WorkState.PENDING, False),  # a resolved ticket is reopened first
        (WorkState.OPEN, WorkState.OPEN, False),
    ],
)
def test_the_working_state_moves_only_where_the_transitions_allow(start, target, moves):
    ticket = TicketFactory.create(state=start)
    agent = UserFactory.create()
    now = timezone.now()
    assert Ticket.objects.filter(pk=ticket.pk).move_to_state(target, by=agent, now=now) == int(moves)
    ticket.refresh_from_db()
    assert ticket.state == (target if moves else start)
    assert (ticket.state_changed, ticket.state_changed_by) == ((now, agent) if moves else (None, None))


def _writes_status(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        writes = {"update", "create", "bulk_create", "update_or_create"}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in writes:
            lines += [node.lineno for kw in node.keywords if kw.arg == "status"]
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [node.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr == "status"]
    return lines


def test_only_the_state_machine_writes_a_tickets_status():
    # The scanner finds the state machine's own writes, so an empty list below means something.
    assert len(_writes_status(ast.parse((ROOT / "tickets" / "models.py").read_text()))) >= 5
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT)
        if (
            relative.parts[0] in {".venv", ".data", "bench"}
            or "tests" in relative.parts
            or "migrations" in relative.parts
        ):
            continue
        # Each state machine writes its own rows' status: tickets', analysis runs' (AnalysisRunQuerySet),
        # incidents' (open <-> closed) and webhook deliveries', which the scan cannot tell apart.
        homes = ("tickets/models.py", "analysis/models.py", "incidents/models.py", "events/models.py")
        if relative in tuple(Path(home) for home in homes):
            continue
        offenders += [f"{relative}:{line}" for line in _writes_status(ast.parse(path.read_text()))]
    assert offenders == []
