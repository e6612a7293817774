from __future__ import annotations

import csv
import io

import pytest

from audit.models import Action, AuditEntry
from tickets.models import WorkState
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_export_is_the_filtered_list_with_its_classification(agent_client, agent):
    TicketFactory.create(subject="A", classified=True, category="billing", priority="high", assignee=agent)
    TicketFactory.create(subject="B", classified=True, category="technical")
    TicketFactory.create(subject="C", classified=True, category="billing", state=WorkState.RESOLVED)
    response = agent_client.get("/tickets/export.csv?category=billing")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="tickets-')
    rows = _rows(response)
    assert [(r["subject"], r["category"], r["priority"], r["assignee"], r["state"]) for r in rows] == [
        ("A", "billing", "high", "agent", "open")  # C is resolved: not in the default view
    ]
    assert {"summary", "confidence", "source", "due", "team", "received"} <= set(rows[0])
    assert len(_rows(agent_client.get("/tickets/export.csv?category=billing&state="))) == 2
    entries = AuditEntry.objects.filter(action=Action.TICKETS_EXPORTED).order_by("id")
    assert [(e.actor, e.detail["query"]) for e in entries] == [
        (agent, "category=billing"),
        (agent, "category=billing&state="),
    ]


def test_cells_that_a_spreadsheet_would_run_are_defused(agent_client):
    TicketFactory.create(subject='=HYPERLINK("http://evil")', customer_name="@SUM(A1)")
    row = _rows(agent_client.get("/tickets/export.csv"))[0]
    assert row["subject"] == '\'=HYPERLINK("http://evil")' and row["customer_name"] == "'@SUM(A1)"


def test_a_filter_matching_more_than_the_limit_is_refused(agent_client, settings):
    settings.EXPORT_MAX_ROWS = 2
    TicketFactory.create_batch(3)
    response = agent_client.get("/tickets/export.csv")
    assert response.status_code == 400 and "More than 2 tickets match" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert not AuditEntry.objects.filter(action=Action.TICKETS_EXPORTED).exists()
    assert len(_rows(agent_client.get("/tickets/export.csv?state=pending"))) == 0


def test_invalid_filters_are_refused(agent_client):
    assert agent_client.get("/tickets/export.csv?priority=soon").status_code == 400


def test_export_needs_login_and_permission(client, outsider):
    assert client.get("/tickets/export.csv").status_code == 302
    client.force_login(outsider)
    assert client.get("/tickets/export.csv").status_code == 403
