from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from incidents import services
from incidents.models import Incident, IncidentStatus
from incidents.tests.factories import IncidentFactory, OutageTicketFactory
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _incident() -> Incident:
    tickets = [OutageTicketFactory.create(customer_email=f"{i}@x.io") for i in range(5)]
    services.process_classified([t.pk for t in tickets])
    return Incident.objects.get(status=IncidentStatus.OPEN)


def test_the_incidents_page_lists_open_incidents_first(agent_client: Client) -> None:
    closed = IncidentFactory.create(title="Old outage", status=IncidentStatus.CLOSED)
    incident = _incident()

    body = agent_client.get("/incidents/").content.decode()

    assert body.index(f"incident-{incident.pk}") < body.index(f"incident-{closed.pk}")
    assert "e503" in body


def test_an_incident_page_shows_its_tickets_terms_and_entities(agent_client: Client) -> None:
    incident = _incident()

    response = agent_client.get(f"/incidents/{incident.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('href="/tickets/') >= 5 and "E503" in body and "Close incident" in body


def test_incident_pages_need_a_login_and_the_ticket_permission(client: Client, outsider: Any) -> None:
    incident = IncidentFactory.create()

    assert client.get("/incidents/").status_code == 302
    assert _client(outsider).get("/incidents/").status_code == 403
    assert _client(outsider).get(f"/incidents/{incident.pk}/").status_code == 403
    assert _client(outsider).post(f"/incidents/{incident.pk}/status/", {"status": "closed"}).status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.OPEN


def test_an_agent_closes_an_incident_and_the_banner_goes(agent_client: Client) -> None:
    incident = _incident()
    assert f"/incidents/{incident.pk}/" in agent_client.get("/tickets/").content.decode()

    response = agent_client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"})

    assert response.status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.CLOSED
    assert 'id="incident-banner"' not in agent_client.get("/tickets/").content.decode()


def test_the_banner_is_on_every_dashboard_page_while_an_incident_is_open(agent_client: Client) -> None:
    incident = _incident()
    ticket = Ticket.objects.first()
    assert ticket is not None

    for path in (
        "/",
        "/tickets/",
        "/review/",
        "/failed/",
        "/me/",
        f"/tickets/{ticket.pk}/",
        f"/incidents/{incident.pk}/",
    ):
        assert 'id="incident-banner"' in agent_client.get(path).content.decode(), path


def test_the_ticket_page_shows_similar_tickets_and_confirms_a_likely_duplicate_in_one_click(
    agent_client: Client,
) -> None:
    first = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="Refund order 77", body="Refund.")
    again = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="Refund order 77?", body="Still.")
    services.process_classified([again.pk])

    page = agent_client.get(f"/tickets/{again.pk}/").content.decode()
    assert "Similar tickets" in page and "same customer" in page and f"Confirm duplicate of #{first.pk}" in page

    response = agent_client.post(f"/tickets/{again.pk}/duplicate/", {"duplicate_of": first.pk})

    assert response.status_code == 302
    assert Ticket.objects.get(pk=again.pk).duplicate_of_id == first.pk
    assert "Confirmed duplicate of" in agent_client.get(f"/tickets/{again.pk}/").content.decode()
    assert f"duplicate of #{first.pk}" in agent_client.get("/tickets/?state=").content.decode()


def test_the_list_flags_likely_duplicates(agent_client: Client) -> None:
    first = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="Refund order 77", body="Refund.")
    again = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="Refund order 77?", body="Still.")
    services.process_classified([first.pk, again.pk])

    assert "likely duplicate" in agent_client.get("/tickets/?state=").content.decode()


def test_confirming_a_duplicate_needs_the_change_permission(outsider: Any) -> None:
    first, again = TicketFactory.create_batch(2)

    response = _client(outsider).post(f"/tickets/{again.pk}/duplicate/", {"duplicate_of": first.pk})

    assert response.status_code == 403
    assert Ticket.objects.get(pk=again.pk).duplicate_of_id is None


def test_admin_shows_incidents_and_takes_a_duplicate_link(admin_client: Client) -> None:
    incident = _incident()
    copy = TicketFactory.create()

    assert incident.title in admin_client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    page = admin_client.get(f"/admin/tickets/ticket/{copy.pk}/change/").content.decode()
    assert 'name="duplicate_of"' in page
