"""An agent's decision on a draft (resolutions.services.accept / reject): recorded like a correction (on the
draft and in the audit log), and an accepted draft resolves the ticket with who resolved it."""

from __future__ import annotations

import pytest

from audit.models import Action, AuditEntry
from events.models import Event
from resolutions import services
from resolutions.models import DraftStatus
from resolutions.tests.factories import DraftFactory
from tickets.models import ResolvedBy, TicketChange, WorkState

pytestmark = pytest.mark.django_db


def test_accepting_as_written_resolves_the_ticket_by_the_specialist(agent):
    draft = DraftFactory.create()

    decided = services.accept(draft, agent)

    ticket = decided.ticket
    ticket.refresh_from_db()
    assert (ticket.state, ticket.resolved_by, ticket.state_changed_by) == (
        WorkState.RESOLVED,
        ResolvedBy.SPECIALIST,
        agent,
    )
    assert (decided.status, decided.decided_by, decided.changes) == (DraftStatus.ACCEPTED, agent, {})
    assert decided.decided_at is not None
    entry = AuditEntry.objects.get(action=Action.RESOLUTION_ACCEPTED)
    assert (entry.actor_name, entry.target) == ("agent", f"ticket:{ticket.pk}")
    assert entry.detail == {"draft": draft.pk, "edited": [], "resolved_by": "specialist", "resolved": True}
    change = TicketChange.objects.get(ticket=ticket)
    assert (change.old_value, change.new_value, change.author) == ("open", "resolved", agent)
    assert Event.objects.filter(type="ticket.resolved").count() == 1


def test_accepting_after_editing_records_what_changed_and_resolves_by_a_human(agent):
    draft = DraftFactory.create()
    old_reply = draft.reply

    decided = services.accept(
        draft,
        agent,
        {"reply": "  We refunded the second charge today [1].  ", "steps": draft.steps, "diagnosis": draft.diagnosis},
    )

    assert decided.changes == {"reply": {"old": old_reply, "new": "We refunded the second charge today [1]."}}
    assert decided.reply == "We refunded the second charge today [1]."
    decided.ticket.refresh_from_db()
    assert decided.ticket.resolved_by == ResolvedBy.HUMAN
    assert AuditEntry.objects.get(action=Action.RESOLUTION_ACCEPTED).detail["edited"] == ["reply"]


def test_rejecting_keeps_the_ticket_open_and_records_why(agent):
    draft = DraftFactory.create()

    decided = services.reject(draft, agent, "Wrong order: the customer has two accounts.")

    decided.ticket.refresh_from_db()
    assert decided.status == DraftStatus.REJECTED and decided.note.startswith("Wrong order")
    assert decided.ticket.state == WorkState.OPEN and decided.ticket.resolved_by == ""
    assert AuditEntry.objects.get(action=Action.RESOLUTION_REJECTED).detail["note"].startswith("Wrong order")


def test_a_draft_is_decided_once(agent):
    draft = DraftFactory.create()
    services.reject(draft, agent)

    with pytest.raises(services.DecisionRefused, match="rejected"):
        services.accept(draft, agent)
    drafting = DraftFactory.create(status=DraftStatus.DRAFTING)
    with pytest.raises(services.DecisionRefused, match="being drafted"):
        services.reject(drafting, agent)
    assert AuditEntry.objects.filter(action=Action.RESOLUTION_ACCEPTED).count() == 0


def test_reopening_a_ticket_resolved_by_the_specialist_clears_who_resolved_it(agent):
    from tickets import workflow

    draft = services.accept(DraftFactory.create(), agent)
    workflow.change_state([draft.ticket_id], WorkState.OPEN, actor=agent)

    draft.ticket.refresh_from_db()
    assert (draft.ticket.state, draft.ticket.resolved_by) == (WorkState.OPEN, "")
    workflow.change_state([draft.ticket_id], WorkState.RESOLVED, actor=agent)
    draft.ticket.refresh_from_db()
    assert draft.ticket.resolved_by == ResolvedBy.HUMAN


def test_crlf_line_breaks_and_surrounding_blanks_are_no_edit(agent):
    draft = DraftFactory.create(reply="Hello,\n\nRefunded [1].  ")

    decided = services.accept(
        draft, agent, {"reply": "Hello,\r\n\r\nRefunded [1].", "steps": [f"{s} " for s in draft.steps]}
    )

    assert decided.changes == {} and decided.reply == "Hello,\n\nRefunded [1].  "
    decided.ticket.refresh_from_db()
    assert decided.ticket.resolved_by == ResolvedBy.SPECIALIST
