"""The working side through the API: state and assignee on every ticket, actions to change them, and the
list's filters for them (shared with the dashboard)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tickets.models import TicketChange, WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def test_tickets_carry_their_state_and_assignee(api_client, agent):
    ticket = TicketFactory.create(assignee=agent)
    data = api_client.get(f"{URL}{ticket.pk}/").json()
    assert (data["state"], data["assignee"], data["state_changed"], data["state_changed_by"]) == (
        "open",
        "agent",
        None,
        None,
    )


def test_setting_the_state(api_client, agent):
    ticket = TicketFactory.create()
    response = api_client.post(f"{URL}{ticket.pk}/state/", {"state": "resolved"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "resolved"
    assert response.json()["state_changed_by"] == "agent"
    refused = api_client.post(f"{URL}{ticket.pk}/state/", {"state": "pending"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"
    same = api_client.post(f"{URL}{ticket.pk}/state/", {"state": "resolved"}, format="json")
    assert same.status_code == 200 and TicketChange.objects.count() == 1  # already resolved: nothing to do
    assert api_client.post(f"{URL}{ticket.pk}/state/", {"state": "closed"}, format="json").status_code == 400


def test_assigning_and_unassigning(api_client):
    UserFactory.create(username="ann", permissions=["tickets.change_ticket"])
    UserFactory.create(username="viewer", permissions=["tickets.view_ticket"])
    ticket = TicketFactory.create()
    assert api_client.post(f"{URL}{ticket.pk}/assign/", {"assignee": "ann"}, format="json").json()["assignee"] == "ann"
    refused = api_client.post(f"{URL}{ticket.pk}/assign/", {"assignee": "viewer"}, format="json")
    assert refused.status_code == 400 and "assignee" in refused.json()["error"]["details"]
    assert api_client.post(f"{URL}{ticket.pk}/assign/", {"assignee": None}, format="json").json()["assignee"] is None


def test_the_api_list_filters_by_state_assignee_and_due(api_client, agent):
    now = timezone.now()
    TicketFactory.create(subject="late", assignee=agent, due_at=now - timedelta(hours=1))
    TicketFactory.create(subject="done", state=WorkState.RESOLVED, due_at=now - timedelta(hours=1))
    TicketFactory.create(subject="later", due_at=now + timedelta(hours=10))

    def subjects(query: str) -> set[str]:
        return {t["subject"] for t in api_client.get(f"{URL}?{query}").json()["results"]}

    assert subjects("") == {"late", "done", "later"}  # the API has no default state
    assert subjects("state=active") == {"late", "later"}
    assert subjects("state=resolved") == {"done"}
    assert subjects("assignee=me") == {"late"}
    assert subjects("assignee=none") == {"done", "later"}
    assert subjects("due=overdue") == {"late"}
    assert subjects("due=24h") == {"later"}


def test_state_and_assign_need_the_change_permission(outsider):
    ticket = TicketFactory.create()
    viewer = UserFactory.create(username="viewer", permissions=["tickets.view_ticket"])
    for user, expected in ((None, 401), (viewer, 403), (outsider, 403)):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        assert client.post(f"{URL}{ticket.pk}/state/", {"state": "resolved"}, format="json").status_code == expected
        assert client.post(f"{URL}{ticket.pk}/assign/", {"assignee": None}, format="json").status_code == expected
    ticket.refresh_from_db()
    assert ticket.state == WorkState.OPEN
