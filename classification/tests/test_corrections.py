"""People's classifications, one or many at once: history rows with their author, the ticket's current
fields, routing, the SLA, what they replaced, and one audit entry."""

from __future__ import annotations

import pytest

from audit.models import Action, AuditEntry
from classification.models import Classification
from classification.services import record_corrections
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_many_tickets_corrected_at_once_each_keep_their_own_values(agent, django_assert_max_num_queries):
    # Each routed as the taxonomy routes it (a team chosen by hand would be kept: tested below).
    tickets = [
        TicketFactory.create(
            classified=True, category="general", priority="low", sentiment="negative", team="frontline"
        ),
        TicketFactory.create(
            classified=True, category="general", priority="critical", sentiment="neutral", team="escalation"
        ),
        TicketFactory.create(
            classified=True, category="technical", priority="high", sentiment="positive", team="tech-support"
        ),
    ]
    with django_assert_max_num_queries(12):  # select, taxonomy, one insert, an update per group, audit
        rows = record_corrections([t.pk for t in tickets], agent, {"category": "billing"})
    assert len(rows) == 3
    current = {t.pk: t for t in Ticket.objects.all()}
    assert [
        (current[t.pk].category, current[t.pk].priority, current[t.pk].sentiment, current[t.pk].team) for t in tickets
    ] == [
        ("billing", "low", "negative", "billing"),
        ("billing", "critical", "neutral", "escalation"),
        ("billing", "high", "positive", "billing"),
    ]
    assert {t.classification_source for t in current.values()} == {"human"}
    due_in_hours = [(current[t.pk].due_at or t.created) - current[t.pk].created for t in tickets]
    assert [d.total_seconds() / 3600 for d in due_in_hours] == [72, 1, 4]
    history = Classification.objects.filter(source="human").order_by("ticket_id")
    assert [(h.author, h.replaced_category, h.confidence) for h in history] == [
        (agent, "general", 1.0),
        (agent, "general", 1.0),
        (agent, "technical", 1.0),
    ]
    entry = AuditEntry.objects.get(action=Action.TICKET_CORRECTED)
    assert entry.target == "tickets:3" and entry.detail["category"] == "billing" and entry.detail["count"] == 3


def test_a_correction_of_a_correction_replaced_no_automatic_answer(agent):
    ticket = TicketFactory.create(classified=True, category="general")
    record_corrections([ticket.pk], agent, {"category": "billing"})
    record_corrections([ticket.pk], agent, {"category": "account"})
    assert list(Classification.objects.order_by("id").values_list("replaced_category", flat=True)) == ["general", ""]


def test_tickets_with_no_category_to_keep_are_skipped(agent):
    unclassified = TicketFactory.create()
    classified = TicketFactory.create(classified=True, category="general")
    rows = record_corrections([unclassified.pk, classified.pk], agent, {"priority": "high"})
    assert [row.ticket_id for row in rows] == [classified.pk]
    unclassified.refresh_from_db()
    assert unclassified.classification_source == ""


def test_without_a_team_a_hand_chosen_one_is_kept_and_an_empty_one_routes_again(agent):
    ticket = TicketFactory.create(classified=True, category="billing", priority="medium", team="engineering")
    record_corrections([ticket.pk], agent, {"priority": "high"})
    ticket.refresh_from_db()
    assert ticket.team == "engineering"  # chosen by hand: kept
    record_corrections([ticket.pk], agent, {"category": "account", "team": ""})
    ticket.refresh_from_db()
    assert ticket.team == "accounts"  # `team: ""` (the form's "Route by category"): routed again
