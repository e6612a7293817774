"""The issue's end-to-end test: tickets posted through the API, classified by a real Celery worker process on
the configured broker, which then finds their similar tickets and opens the incident; seen in the API and on
the dashboard."""

from __future__ import annotations

import pytest

from conftest import wait_for
from incidents.models import Incident, IncidentTicket
from incidents.tests.factories import OUTAGE_SUBJECTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BODY = "Since a few minutes the checkout payment page at https://shop.example.com/checkout fails with E503."


def _post(api_client, subject: str, customer: str) -> int:
    response = api_client.post(
        "/api/v1/tickets/", {"subject": subject, "body": BODY, "customer_email": customer}, format="json"
    )
    assert response.status_code == 202
    return response.data["id"]


def test_six_outage_tickets_from_four_customers_open_one_incident_and_a_seventh_joins(
    api_client, agent_client, celery_worker_process
):
    celery_worker_process()
    customers = ["ann@a.io", "bob@b.io", "cy@c.io", "di@d.io", "ann@a.io", "bob@b.io"]
    ids = [_post(api_client, subject, customer) for subject, customer in zip(OUTAGE_SUBJECTS, customers, strict=False)]

    wait_for(lambda: IncidentTicket.objects.filter(ticket__in=ids).count() == 6, timeout=120)
    incident = Incident.objects.get()
    listed = api_client.get("/api/v1/incidents/").json()["results"]
    assert [(row["id"], row["status"], row["ticket_count"], row["customer_count"]) for row in listed] == [
        (incident.pk, "open", 6, 4)
    ]
    assert f"/incidents/{incident.pk}/" in agent_client.get("/tickets/").content.decode()  # the banner

    seventh = _post(api_client, OUTAGE_SUBJECTS[6], "eve@e.io")

    wait_for(lambda: IncidentTicket.objects.filter(ticket=seventh, incident=incident).exists(), timeout=120)
    detail = api_client.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert (detail["ticket_count"], detail["customer_count"]) == (7, 5)
    assert seventh in [t["id"] for t in detail["tickets"]]
    assert Incident.objects.count() == 1
