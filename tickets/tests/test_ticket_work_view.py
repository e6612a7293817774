"""The detail page's working side: state, assignment, SLA, activity; and the correction form's team."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classification.services import classify_ticket
from tickets.forms import CorrectionForm
from tickets.models import TicketChange, WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_resolving_through_htmx_redraws_the_work_card(agent_client, agent):
    ticket = TicketFactory.create(classified=True)
    response = agent_client.post(f"/tickets/{ticket.pk}/state/", {"state": "resolved"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith("<section") and "<html" not in html
    assert f'id="ticket-{ticket.pk}-work"' in html and 'data-field="state">Resolved<' in html
    assert ">Reopen</button>" in html and "moved it from open to resolved" in html
    ticket.refresh_from_db()
    assert (ticket.state, ticket.state_changed_by) == (WorkState.RESOLVED, agent)


def test_reopening_without_javascript_redirects_to_the_ticket(agent_client):
    ticket = TicketFactory.create(state=WorkState.RESOLVED)
    response = agent_client.post(f"/tickets/{ticket.pk}/state/", {"state": "open"})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.pk}/"
    ticket.refresh_from_db()
    assert ticket.state == WorkState.OPEN
    assert "reopened it" in agent_client.get(response["Location"]).content.decode()


def test_an_unknown_state_is_a_422_and_changes_nothing(agent_client):
    ticket = TicketFactory.create()
    response = agent_client.post(f"/tickets/{ticket.pk}/state/", {"state": "closed"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and not TicketChange.objects.exists()


def test_assign_to_me_and_to_a_colleague(agent_client, agent):
    UserFactory.create(username="ann", permissions=["tickets.change_ticket"])
    ticket = TicketFactory.create()
    me = agent_client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": "me"}, HTTP_HX_REQUEST="true")
    assert 'data-field="assignee">agent<' in me.content.decode()
    agent_client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": "ann"}, HTTP_HX_REQUEST="true")
    ticket.refresh_from_db()
    assert ticket.assignee.username == "ann"
    refused = agent_client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": "nobody-here"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    ticket.refresh_from_db()
    assert ticket.assignee.username == "ann"


def test_state_and_assignment_need_the_change_permission(client, outsider):
    ticket = TicketFactory.create()
    viewer = UserFactory.create(username="viewer", permissions=["tickets.view_ticket"])
    client.force_login(viewer)
    assert client.post(f"/tickets/{ticket.pk}/state/", {"state": "resolved"}).status_code == 403
    assert client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": "me"}).status_code == 403
    assert "Resolve</button>" not in client.get(f"/tickets/{ticket.pk}/").content.decode()
    client.logout()
    assert client.post(f"/tickets/{ticket.pk}/state/", {"state": "resolved"}).status_code == 302
    client.force_login(outsider)
    assert client.get(f"/tickets/{ticket.pk}/work/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == WorkState.OPEN and ticket.assignee is None


def test_the_work_card_shows_the_sla_and_redraws_after_a_correction(agent_client):
    ticket = TicketFactory.create(classified=True, due_at=timezone.now() - timedelta(hours=3))
    html = agent_client.get(f"/tickets/{ticket.pk}/work/").content.decode()
    assert 'class="card work overdue"' in html and "Overdue 3 h" in html
    assert 'hx-trigger="ticketCorrected from:body, ticketResolved from:body"' in html


def test_the_correction_form_routes_by_category_unless_a_team_was_chosen():
    routed = TicketFactory.create(classified=True, category="billing", priority="medium", team="billing")
    chosen = TicketFactory.create(classified=True, category="billing", priority="medium", team="engineering")
    critical = TicketFactory.create(classified=True, category="billing", priority="critical", team="escalation")
    assert CorrectionForm.for_ticket(routed).initial["team"] == ""
    assert CorrectionForm.for_ticket(chosen).initial["team"] == "engineering"
    assert CorrectionForm.for_ticket(critical).initial["team"] == ""


def test_changing_only_the_category_moves_the_ticket_to_the_new_categorys_team(agent_client):
    ticket = TicketFactory.create(subject="Refund please", body="I want my money back for order 55123")
    classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.team == "billing"
    form = CorrectionForm.for_ticket(ticket)
    data = {**form.initial, "category": "account"}  # what the browser sends when only the category changes
    agent_client.post(f"/tickets/{ticket.pk}/correct/", data)
    ticket.refresh_from_db()
    assert (ticket.category, ticket.team) == ("account", "accounts")
