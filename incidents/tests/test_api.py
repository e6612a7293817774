from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, IncidentStatus
from incidents.tests.factories import IncidentFactory, OutageTicketFactory
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_similar_tickets_of_a_ticket(api_client: APIClient) -> None:
    ticket = TicketFactory.create(classified=True, customer_email="a@x.io", subject="Sync stuck", body="Sync stuck.")
    other = TicketFactory.create(classified=True, customer_email="a@x.io", subject="Sync is stuck", body="Stuck.")
    services.process_classified([ticket.pk])

    response = api_client.get(f"/api/v1/tickets/{ticket.pk}/similar/")

    assert response.status_code == 200
    [row] = response.json()
    assert row["id"] == other.pk and row["same_customer"] is True and 0 < row["score"] <= 1
    assert row["url"].endswith(f"/api/v1/tickets/{other.pk}/")


def test_similar_tickets_need_a_login_and_the_ticket_permission(outsider: Any) -> None:
    ticket = TicketFactory.create()

    assert APIClient().get(f"/api/v1/tickets/{ticket.pk}/similar/").status_code in (401, 403)
    assert _client(outsider).get(f"/api/v1/tickets/{ticket.pk}/similar/").status_code == 403
    assert _client(outsider).get("/api/v1/incidents/").status_code == 403


def test_an_agent_confirms_and_undoes_a_duplicate(api_client: APIClient) -> None:
    original, copy = TicketFactory.create_batch(2)

    response = api_client.post(f"/api/v1/tickets/{copy.pk}/duplicate/", {"duplicate_of": original.pk}, format="json")

    assert response.status_code == 200 and response.json() == {"duplicate_of": original.pk}
    assert Ticket.objects.get(pk=copy.pk).duplicate_of_id == original.pk
    assert api_client.get(f"/api/v1/tickets/{copy.pk}/").json()["duplicate_of"] == original.pk
    api_client.post(f"/api/v1/tickets/{copy.pk}/duplicate/", {"duplicate_of": None}, format="json")
    assert Ticket.objects.get(pk=copy.pk).duplicate_of_id is None


def test_a_ticket_cannot_duplicate_itself(api_client: APIClient) -> None:
    ticket = TicketFactory.create()

    response = api_client.post(f"/api/v1/tickets/{ticket.pk}/duplicate/", {"duplicate_of": ticket.pk}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_refused"


def test_confirming_a_duplicate_needs_the_change_permission(outsider: Any) -> None:
    original, copy = TicketFactory.create_batch(2)

    response = _client(outsider).post(f"/api/v1/tickets/{copy.pk}/duplicate/", {"duplicate_of": original.pk})

    assert response.status_code == 403
    assert Ticket.objects.get(pk=copy.pk).duplicate_of_id is None


def test_incidents_list_and_detail(api_client: APIClient, django_assert_max_num_queries: Any) -> None:
    tickets = [OutageTicketFactory.create(customer_email=f"{i}@x.io") for i in range(5)]
    services.process_classified([t.pk for t in tickets])
    IncidentFactory.create(status=IncidentStatus.CLOSED)
    incident = Incident.objects.get(status=IncidentStatus.OPEN)

    with django_assert_max_num_queries(6):
        listed = api_client.get("/api/v1/incidents/").json()
    detail = api_client.get(f"/api/v1/incidents/{incident.pk}/").json()

    assert [row["status"] for row in listed["results"]] == ["open", "closed"]
    assert listed["results"][0]["id"] == incident.pk
    assert detail["ticket_count"] == 5 and detail["customer_count"] == 5
    assert [t["id"] for t in detail["tickets"]] == [t.pk for t in tickets]
    assert sum(bucket["tickets"] for bucket in detail["growth"]) == 5


def test_an_agent_closes_and_reopens_an_incident(api_client: APIClient, outsider: Any) -> None:
    incident = IncidentFactory.create()

    assert _client(outsider).post(f"/api/v1/incidents/{incident.pk}/close/").status_code == 403
    closed = api_client.post(f"/api/v1/incidents/{incident.pk}/close/").json()
    assert closed["status"] == "closed" and closed["closed_at"]
    reopened = api_client.post(f"/api/v1/incidents/{incident.pk}/reopen/").json()
    assert reopened["status"] == "open" and reopened["closed_at"] is None
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.OPEN
