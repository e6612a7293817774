"""Re-sending a known channel + external id: what the answer discloses depends on `view_ticket`."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets.models import Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"
SECRET_FIELDS = ("subject", "customer_email", "customer_name", "category", "summary")


@pytest.fixture
def stored() -> Ticket:
    return TicketFactory.create(
        classified=True,
        channel="email",
        external_id="zd-1001",
        subject="Card ending 4242 was charged twice",
        customer_email="victim@example.com",
        customer_name="Victim Person",
        category="billing",
        summary="Charged twice for the same order.",
    )


def _token_client(*permissions: str) -> APIClient:
    user = UserFactory.create(permissions=list(permissions))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _probe(external_id: str = "zd-1001") -> dict[str, str]:
    return {"subject": "probe", "body": "probe", "channel": "email", "external_id": external_id}


def test_a_create_only_token_learns_only_id_and_status_of_a_known_ticket(stored):
    response = _token_client("tickets.add_ticket").post(URL, _probe(), format="json")
    assert response.status_code == 200
    assert response.json() == {"id": stored.pk, "status": "classified"}
    assert response["Location"].endswith(f"/api/v1/tickets/{stored.pk}/")
    assert Ticket.objects.count() == 1


def test_a_token_that_may_read_tickets_gets_the_stored_ticket(stored):
    response = _token_client("tickets.add_ticket", "tickets.view_ticket").post(URL, _probe(), format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == stored.pk
    assert [body[name] for name in SECRET_FIELDS] == [getattr(stored, name) for name in SECRET_FIELDS]


def test_bulk_duplicates_for_a_create_only_token_carry_only_id_and_status(stored):
    payload = {"tickets": [_probe(), _probe("zd-new")]}
    response = _token_client("tickets.add_ticket").post(f"{URL}bulk/", payload, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["created"] == 1 and body["duplicates"] == 1
    assert body["duplicate_tickets"] == [{"id": stored.pk, "status": "classified"}]
    assert body["tickets"][0]["subject"] == "probe"  # its own new ticket: what it just sent


def test_bulk_duplicates_for_a_reader_are_the_stored_tickets(stored):
    payload = {"tickets": [_probe()]}
    response = _token_client("tickets.add_ticket", "tickets.view_ticket").post(f"{URL}bulk/", payload, format="json")
    assert response.status_code == 202
    [duplicate] = response.json()["duplicate_tickets"]
    assert [duplicate[name] for name in SECRET_FIELDS] == [getattr(stored, name) for name in SECRET_FIELDS]


def test_a_token_without_add_ticket_cannot_probe_at_all(stored):
    response = _token_client("tickets.view_ticket").post(URL, _probe(), format="json")
    assert response.status_code == 403
    assert "victim" not in response.content.decode()
