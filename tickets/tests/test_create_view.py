from __future__ import annotations

import pytest

from tickets.models import Ticket
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VALID = {
    "subject": "Cannot log in",
    "body": "Locked out since this morning",
    "channel": "web",
    "customer_name": "Ana",
    "customer_email": "ana@example.com",
    "declared_priority": "high",
}


def test_the_form_page_renders(agent_client):
    html = agent_client.get("/tickets/new/").content.decode()
    assert 'id="ticket-form"' in html and 'hx-target="#created-tickets"' in html and "<html" in html


def test_posting_without_javascript_creates_and_redirects(agent_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post("/tickets/new/", VALID)
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.pk}/"
    assert (ticket.subject, ticket.channel, ticket.declared_priority) == ("Cannot log in", "web", "high")
    assert len(callbacks) == 1


def test_posting_with_htmx_answers_the_new_polling_row(agent_client):
    response = agent_client.post("/tickets/new/", VALID, HTTP_HX_REQUEST="true")
    ticket = Ticket.objects.get()
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="ticket-{ticket.pk}"') and 'hx-trigger="every 2s"' in html


def test_invalid_ticket_is_a_422_with_the_form_retargeted(agent_client):
    response = agent_client.post("/tickets/new/", {"subject": "", "body": "", "channel": "fax"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#ticket-form" and response["HX-Reswap"] == "outerHTML"
    assert "A ticket needs a subject or a body." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_creating_needs_the_add_permission(client):
    client.force_login(UserFactory.create(username="reader", permissions=["tickets.view_ticket"]))
    assert client.post("/tickets/new/", VALID).status_code == 403
    assert Ticket.objects.count() == 0


def test_anonymous_is_sent_to_login(client):
    assert client.get("/tickets/new/").status_code == 302
