"""Bulk actions from the list (selected rows or every ticket the filter matches) and confirming several
tickets at once in needs review."""

from __future__ import annotations

import pytest

from audit.models import Action, AuditEntry
from classification.models import Classification
from classification.services import classify_ticket, record_corrections
from tickets import workflow
from tickets.models import Status, Ticket, WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _post(client, htmx=True, **data):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post("/tickets/bulk/", data, **headers)


def test_assigning_the_selected_tickets(agent_client, agent):
    picked = TicketFactory.create_batch(2)
    other = TicketFactory.create()
    response = _post(agent_client, action="assign", assignee="agent", ids=[t.pk for t in picked])
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 tickets assigned to agent." in html and 'id="ticket-list"' in html and "<html" not in html
    assert set(Ticket.objects.filter(assignee=agent).values_list("pk", flat=True)) == {t.pk for t in picked}
    other.refresh_from_db()
    assert other.assignee is None


def test_setting_state_and_correcting_category_and_priority(agent_client, agent):
    tickets = TicketFactory.create_batch(3, classified=True, category="general", priority="low", team="frontline")
    ids = [t.pk for t in tickets]
    _post(agent_client, action="state", state="pending", ids=ids)
    _post(agent_client, action="category", category="billing", ids=ids[:2])
    _post(agent_client, action="priority", priority="critical", ids=ids[2:])
    rows = {t.pk: t for t in Ticket.objects.filter(pk__in=ids)}
    assert {t.state for t in rows.values()} == {WorkState.PENDING}
    assert [(rows[pk].category, rows[pk].team, rows[pk].priority) for pk in ids] == [
        ("billing", "billing", "low"),
        ("billing", "billing", "low"),
        ("general", "escalation", "critical"),  # critical routes to escalation
    ]
    assert Classification.objects.filter(source="human", author=agent).count() == 3
    assert set(Classification.objects.values_list("replaced_category", flat=True)) == {"general"}


def test_a_corrected_priority_moves_the_due_time(agent_client):
    ticket = TicketFactory.create(classified=True, priority="low")
    _post(agent_client, action="priority", priority="high", ids=[ticket.pk])
    ticket.refresh_from_db()
    assert (ticket.due_at - ticket.created).total_seconds() == 4 * 3600


def test_reclassify_queues_the_selection_and_a_human_correction_survives_it(
    agent_client, agent, django_capture_on_commit_callbacks
):
    tickets = TicketFactory.create_batch(2, classified=True)
    record_corrections([tickets[0].pk], agent, {"category": "billing"})
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(agent_client, action="reclassify", ids=[t.pk for t in tickets])
    assert "2 tickets queued for classification." in response.content.decode() and len(callbacks) == 1
    assert set(Ticket.objects.values_list("status", flat=True)) == {Status.QUEUED}
    for ticket in tickets:  # what the worker does with the messages: not forced, so the correction stays
        classify_ticket(ticket.pk)
    corrected = Ticket.objects.get(pk=tickets[0].pk)
    assert (corrected.classification_source, corrected.category) == ("human", "billing")


def test_all_matching_the_filter_applies_to_the_filtered_tickets_only(agent_client):
    TicketFactory.create_batch(3, classified=True, category="billing")
    TicketFactory.create(classified=True, category="technical", subject="tech")
    response = _post(agent_client, action="state", state="resolved", scope="all", query="category=billing")
    assert "3 tickets set to resolved." in response.content.decode()
    assert Ticket.objects.filter(state=WorkState.RESOLVED).count() == 3
    assert Ticket.objects.get(subject="tech").state == WorkState.OPEN
    # The list comes back with the same filter: the resolved tickets have left the default (open) view.
    assert response.context["page"].rows == []


def test_all_matching_takes_the_bulk_limit_at_a_time_and_applying_again_reaches_the_rest(agent_client, monkeypatch):
    monkeypatch.setattr(workflow, "BULK_MAX", 2)
    TicketFactory.create_batch(5, classified=True, priority="low")
    first = _post(agent_client, action="priority", priority="high", scope="all", query="priority=low&state=")
    assert "2 tickets given priority high. More match: apply again for the next 2." in first.content.decode()
    # A filter that still matches the corrected ones (every open ticket): each click skips them, takes the next.
    _post(agent_client, action="priority", priority="high", scope="all", query="")
    _post(agent_client, action="priority", priority="high", scope="all", query="")
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"high"}
    assert Classification.objects.filter(source="human").count() == 5  # each ticket corrected once
    done = _post(agent_client, action="priority", priority="high", scope="all", query="")
    assert "0 tickets changed: none needed it." in done.content.decode()


def test_without_javascript_it_redirects_back_to_the_filtered_list(agent_client):
    ticket = TicketFactory.create()
    response = _post(agent_client, htmx=False, action="state", state="resolved", ids=[ticket.pk], query="state=")
    assert response.status_code == 302 and response["Location"] == "/tickets/?state="
    page = agent_client.get(response["Location"]).content.decode()
    assert "1 ticket set to resolved." in page


def test_invalid_requests_change_nothing_and_say_why(agent_client):
    ticket = TicketFactory.create()
    no_selection = _post(agent_client, action="state", state="pending")
    no_value = _post(agent_client, action="category", ids=[ticket.pk])
    bad_filter = _post(agent_client, action="state", state="pending", scope="all", query="priority=soon")
    assert [r.status_code for r in (no_selection, no_value, bad_filter)] == [400, 400, 400]
    assert "Select at least one ticket" in no_selection.content.decode()
    assert "Choose a value for this action" in no_value.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == WorkState.OPEN and not AuditEntry.objects.exclude(action=Action.LOGIN).exists()


def test_bulk_needs_the_change_permission(client, outsider):
    ticket = TicketFactory.create()
    assert _post(client, action="state", state="resolved", ids=[ticket.pk]).status_code == 302  # to the login
    viewer = UserFactory.create(username="viewer", permissions=["tickets.view_ticket"])
    client.force_login(viewer)
    assert _post(client, action="state", state="resolved", ids=[ticket.pk]).status_code == 403
    client.force_login(outsider)
    assert _post(client, action="state", state="resolved", ids=[ticket.pk]).status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == WorkState.OPEN


def test_confirming_several_in_review_keeps_their_values_as_human_ones(agent_client, agent):
    tickets = TicketFactory.create_batch(3, classified=True, category="billing", priority="high", team="billing")
    response = _post(agent_client, action="confirm", origin="review", ids=[t.pk for t in tickets[:2]])
    html = response.content.decode()
    assert 'id="review-rows"' in html and "2 tickets confirmed." in html
    assert [t.pk for t in response.context["page"].rows] == [tickets[2].pk]  # the confirmed ones left the list
    confirmed = Ticket.objects.filter(classification_source="human")
    assert confirmed.count() == 2 and set(confirmed.values_list("category", "priority")) == {("billing", "high")}
    entry = AuditEntry.objects.get(action=Action.TICKET_CORRECTED)
    assert entry.detail["count"] == 2


def test_review_shows_25_a_page_with_a_confirm_all_bar(agent_client):
    TicketFactory.create_batch(30, classified=True)
    html = agent_client.get("/review/").content.decode()
    assert html.count('name="ids"') == 25 and "Confirm selected" in html and "Next →" in html


def test_bulk_corrections_keep_a_team_someone_chose_by_hand(agent_client, agent):
    chosen = TicketFactory.create(classified=True, category="billing", priority="medium", team="engineering")
    routed = TicketFactory.create(classified=True, category="billing", priority="medium", team="billing")
    _post(agent_client, action="priority", priority="high", ids=[chosen.pk, routed.pk])
    _post(agent_client, action="category", category="account", ids=[routed.pk])
    assert dict(Ticket.objects.values_list("pk", "team")) == {chosen.pk: "engineering", routed.pk: "accounts"}
    _post(agent_client, action="confirm", origin="review", ids=[chosen.pk])
    chosen.refresh_from_db()
    assert chosen.team == "engineering"


def test_bulk_assign_needs_a_person_or_nobody(agent_client, agent):
    ticket = TicketFactory.create(assignee=agent)
    refused = _post(agent_client, action="assign", ids=[ticket.pk])
    assert refused.status_code == 400 and "Choose a value for this action" in refused.content.decode()
    _post(agent_client, action="assign", assignee="none", ids=[ticket.pk])
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_the_bulk_bar_says_how_many_match_the_filter(agent_client, monkeypatch):
    monkeypatch.setattr(workflow, "BULK_MAX", 3)
    TicketFactory.create_batch(2, category="billing")
    TicketFactory.create_batch(5, category="technical")
    assert "All 2 matching the filter" in agent_client.get("/tickets/?category=billing").content.decode()
    assert "All 3+ matching the filter" in agent_client.get("/tickets/?category=technical").content.decode()
