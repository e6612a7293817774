"""Agents' confirmations of duplicates and their closing and reopening of incidents are in the audit log, with
who did it and from where (dashboard, API, admin); a request that changes nothing writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import Action, AuditEntry
from incidents.models import Incident, IncidentStatus
from incidents.tests.factories import IncidentFactory
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _entries(action: Action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _admin_change(client: Client, ticket: Ticket, duplicate_of: int | None) -> Any:
    """POST the ticket's admin form as shown, with `duplicate_of` changed."""
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    data: dict[str, str] = {}
    for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "csrfmiddlewaretoken" or ('type="checkbox"' in tag and "checked" not in tag):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = text.strip()
    for name, option in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>.*?<option value="([^"]*)"[^>]*selected', page, re.S
    ):
        data[name] = option
    data["duplicate_of"] = "" if duplicate_of is None else str(duplicate_of)
    data["_save"] = "Save"
    return client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", data)


def test_the_dashboard_audits_confirming_and_clearing_a_duplicate(agent_client: Client, agent: Any) -> None:
    original, copy = TicketFactory.create_batch(2)

    agent_client.post(f"/tickets/{copy.pk}/duplicate/", {"duplicate_of": original.pk})
    agent_client.post(f"/tickets/{copy.pk}/duplicate/", {"duplicate_of": ""})
    agent_client.post(f"/tickets/{copy.pk}/duplicate/", {"duplicate_of": ""})  # not a duplicate: nothing to log

    [confirmed] = _entries(Action.DUPLICATE_CONFIRMED)
    assert (confirmed.actor, confirmed.target) == (agent, f"ticket:{copy.pk}")
    assert confirmed.detail == {"duplicate_of": original.pk, "was": None, "via": "dashboard"}
    assert confirmed.ip == "127.0.0.1"
    [cleared] = _entries(Action.DUPLICATE_CLEARED)
    assert (cleared.actor, cleared.target, cleared.detail) == (
        agent,
        f"ticket:{copy.pk}",
        {"was": original.pk, "via": "dashboard"},
    )


def test_the_api_audits_a_duplicate_of_a_duplicate_and_its_clearing(api_client: APIClient, agent: Any) -> None:
    original, copy, third = TicketFactory.create_batch(3)
    api_client.post(f"/api/v1/tickets/{copy.pk}/duplicate/", {"duplicate_of": original.pk}, format="json")

    api_client.post(f"/api/v1/tickets/{third.pk}/duplicate/", {"duplicate_of": copy.pk}, format="json")
    api_client.post(f"/api/v1/tickets/{third.pk}/duplicate/", {"duplicate_of": None}, format="json")

    first, linked = _entries(Action.DUPLICATE_CONFIRMED)
    assert first.detail["via"] == "api" and first.actor == agent
    # Asked to link to a duplicate: linked to its original, and the log says both.
    assert linked.target == f"ticket:{third.pk}"
    assert linked.detail == {"duplicate_of": original.pk, "asked": copy.pk, "was": None, "via": "api"}
    [cleared] = _entries(Action.DUPLICATE_CLEARED)
    assert cleared.detail == {"was": original.pk, "via": "api"} and cleared.actor == agent


def test_the_api_audit_names_the_tickets_a_confirmation_points_elsewhere(api_client: APIClient) -> None:
    original, copy, copy_of_copy = TicketFactory.create_batch(3)
    Ticket.objects.filter(pk=copy_of_copy.pk).update(duplicate_of=copy)

    api_client.post(f"/api/v1/tickets/{copy.pk}/duplicate/", {"duplicate_of": original.pk}, format="json")

    [confirmed] = _entries(Action.DUPLICATE_CONFIRMED)
    assert confirmed.detail["repointed"] == [copy_of_copy.pk]
    assert Ticket.objects.get(pk=copy_of_copy.pk).duplicate_of_id == original.pk


def test_a_refused_duplicate_is_not_audited(api_client: APIClient) -> None:
    ticket = TicketFactory.create()

    assert api_client.post(f"/api/v1/tickets/{ticket.pk}/duplicate/", {"duplicate_of": ticket.pk}).status_code == 409

    assert not AuditEntry.objects.filter(action__startswith="ticket.duplicate").exists()


def test_admin_confirms_and_clears_a_duplicate_through_the_service_and_audits_it(
    admin_client: Client, admin_user: Any
) -> None:
    original, copy, third = TicketFactory.create_batch(3)
    Ticket.objects.filter(pk=copy.pk).update(duplicate_of=original)

    assert _admin_change(admin_client, third, copy.pk).status_code == 302
    # Linked to the original's original, as the dashboard and the API do.
    assert Ticket.objects.get(pk=third.pk).duplicate_of_id == original.pk
    assert _admin_change(admin_client, third, None).status_code == 302
    assert Ticket.objects.get(pk=third.pk).duplicate_of_id is None

    [confirmed] = _entries(Action.DUPLICATE_CONFIRMED)
    assert (confirmed.actor, confirmed.target) == (admin_user, f"ticket:{third.pk}")
    assert confirmed.detail == {"duplicate_of": original.pk, "asked": copy.pk, "was": None, "via": "admin"}
    [cleared] = _entries(Action.DUPLICATE_CLEARED)
    assert cleared.detail == {"was": original.pk, "via": "admin"} and cleared.actor == admin_user


def test_an_admin_save_that_leaves_the_link_alone_audits_nothing(admin_client: Client) -> None:
    ticket = TicketFactory.create()

    assert _admin_change(admin_client, ticket, None).status_code == 302

    assert not AuditEntry.objects.filter(action__startswith="ticket.duplicate").exists()


def test_the_dashboard_audits_closing_and_reopening_an_incident(agent_client: Client, agent: Any) -> None:
    incident = IncidentFactory.create(ticket_count=6)

    agent_client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"})
    agent_client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"})  # already closed: nothing to log
    agent_client.post(f"/incidents/{incident.pk}/status/", {"status": "open"})

    [closed] = _entries(Action.INCIDENT_CLOSED)
    assert (closed.actor, closed.target) == (agent, f"incident:{incident.pk}")
    assert closed.detail == {"was": "open", "status": "closed", "via": "dashboard", "tickets": 6}
    [reopened] = _entries(Action.INCIDENT_REOPENED)
    assert reopened.actor == agent and reopened.detail["was"] == "closed" and reopened.detail["via"] == "dashboard"


def test_the_api_audits_closing_and_reopening_an_incident(api_client: APIClient, agent: Any) -> None:
    incident = IncidentFactory.create()

    api_client.post(f"/api/v1/incidents/{incident.pk}/close/")
    api_client.post(f"/api/v1/incidents/{incident.pk}/reopen/")
    api_client.post(f"/api/v1/incidents/{incident.pk}/reopen/")

    assert [
        (e.action, e.actor, e.detail["via"]) for e in AuditEntry.objects.filter(target__startswith="incident:")
    ] == [
        (Action.INCIDENT_REOPENED, agent, "api"),
        (Action.INCIDENT_CLOSED, agent, "api"),
    ]


def test_admin_closes_and_reopens_incidents_by_its_actions_and_audits_them(
    admin_client: Client, admin_user: Any
) -> None:
    incident = IncidentFactory.create()
    url = "/admin/incidents/incident/"

    admin_client.post(url, {"action": "close_incidents", "_selected_action": [incident.pk]})
    closed = Incident.objects.get(pk=incident.pk)
    assert closed.status == IncidentStatus.CLOSED and closed.closed_by == admin_user
    admin_client.post(url, {"action": "reopen_incidents", "_selected_action": [incident.pk]})

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.OPEN
    entries = [
        (e.action, e.actor, e.detail["via"]) for e in AuditEntry.objects.filter(target=f"incident:{incident.pk}")
    ]
    assert entries == [(Action.INCIDENT_REOPENED, admin_user, "admin"), (Action.INCIDENT_CLOSED, admin_user, "admin")]
    # The status is not edited on the form (closed_at, closed_by and the log would not follow).
    page = admin_client.get(f"{url}{incident.pk}/change/").content.decode()
    assert 'name="status"' not in page
