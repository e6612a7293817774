"""tickets.workflow: the working state, assignment and agents' teams, with their history rows and audit."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from audit.models import Action, AuditEntry
from tickets import workflow
from tickets.models import AgentProfile, TicketChange, WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_changing_state_records_who_changed_what_and_one_audit_entry(agent):
    open_ticket = TicketFactory.create()
    pending = TicketFactory.create(state=WorkState.PENDING)
    resolved = TicketFactory.create(state=WorkState.RESOLVED)
    changed = workflow.change_state([open_ticket.pk, pending.pk, resolved.pk], WorkState.PENDING, actor=agent)
    assert changed == [open_ticket.pk]  # pending already; resolved must be reopened first
    open_ticket.refresh_from_db()
    assert (open_ticket.state, open_ticket.state_changed_by) == (WorkState.PENDING, agent)
    change = TicketChange.objects.get()
    assert (change.ticket_id, change.field, change.old_value, change.new_value, change.author) == (
        open_ticket.pk,
        "state",
        "open",
        "pending",
        agent,
    )
    entry = AuditEntry.objects.get(action=Action.TICKET_STATE_CHANGED)
    assert entry.target == f"ticket:{open_ticket.pk}" and entry.detail["state"] == "pending"


def test_resolving_and_reopening_many_at_once(agent):
    tickets = TicketFactory.create_batch(3, state=WorkState.PENDING)
    ids = [t.pk for t in tickets]
    assert sorted(workflow.change_state(ids, WorkState.RESOLVED, actor=agent)) == sorted(ids)
    assert sorted(workflow.change_state(ids, WorkState.OPEN, actor=agent)) == sorted(ids)
    assert set(TicketChange.objects.filter(new_value="open").values_list("old_value", flat=True)) == {"resolved"}
    assert AuditEntry.objects.filter(action=Action.TICKET_STATE_CHANGED).count() == 2
    assert [e.detail["count"] for e in AuditEntry.objects.filter(action=Action.TICKET_STATE_CHANGED)] == [3, 3]


def test_assigning_and_unassigning_keeps_the_previous_holder(agent):
    ann = UserFactory.create(username="ann", permissions=["tickets.change_ticket"])
    ticket = TicketFactory.create(assignee=agent)
    mine = TicketFactory.create(assignee=ann)
    assert workflow.assign([ticket.pk, mine.pk], ann, actor=agent) == [ticket.pk]  # mine was ann's already
    assert workflow.assign([ticket.pk], None, actor=agent) == [ticket.pk]
    ticket.refresh_from_db()
    assert ticket.assignee is None
    changes = list(TicketChange.objects.filter(ticket=ticket).order_by("id").values_list("old_value", "new_value"))
    assert changes == [("agent", "ann"), ("ann", "")]
    assert [e.detail["assignee"] for e in AuditEntry.objects.filter(action=Action.TICKET_ASSIGNED).order_by("id")] == [
        "ann",
        "",
    ]


def test_agents_are_the_active_users_who_may_change_tickets():
    direct = UserFactory.create(username="direct", permissions=["tickets.change_ticket"])
    group = Group.objects.create(name="helpers")
    group.permissions.add(Permission.objects.get(codename="change_ticket"))
    via_group = UserFactory.create(username="via-group")
    via_group.groups.add(group)
    boss = UserFactory.create(username="boss", is_superuser=True)
    UserFactory.create(username="viewer", permissions=["tickets.view_ticket"])
    UserFactory.create(username="gone", permissions=["tickets.change_ticket"], is_active=False)
    assert list(workflow.agents()) == [boss, direct, via_group]


def test_an_agents_team_is_kept_on_their_profile(agent):
    assert workflow.team_of(agent) == ""
    workflow.set_team(agent, "billing")
    workflow.set_team(agent, "accounts")
    assert workflow.team_of(agent) == "accounts" and AgentProfile.objects.count() == 1


def test_resolve_backlog_resolves_what_was_received_before_the_date_in_batches(monkeypatch):
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    old = timezone.now() - timedelta(days=40)
    TicketFactory.create_batch(3, created=old)
    TicketFactory.create(created=old, state=WorkState.PENDING)
    recent = TicketFactory.create()
    monkeypatch.setattr(workflow, "BULK_MAX", 2)
    day = (timezone.localdate() - timedelta(days=30)).isoformat()
    dry = StringIO()
    call_command("resolve_backlog", "--received-before", day, "--dry-run", stdout=dry)
    assert "4 open or pending tickets" in dry.getvalue() and not TicketChange.objects.exists()
    out = StringIO()
    call_command("resolve_backlog", "--received-before", day, stdout=out)
    assert "Resolved 4 tickets" in out.getvalue()
    recent.refresh_from_db()
    assert recent.state == WorkState.OPEN
    entries = AuditEntry.objects.filter(action=Action.TICKET_STATE_CHANGED)
    assert entries.count() == 2 and {e.actor_name for e in entries} == {"manage.py resolve_backlog"}
