from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_stats_gives_the_dashboard_numbers(api_client):
    TicketFactory.create_batch(2, classified=True, classification_source="llm", confidence=0.8, risk=0.9)
    TicketFactory.create(classified=True, confidence=0.4)
    TicketFactory.create(failed=True)
    TicketFactory.create()
    data = api_client.get("/api/v1/stats/").json()
    assert data["counts"] == {"queued": 1, "processing": 0, "failed": 1, "classified": 3, "total": 5}
    assert data["queue_depth"] == 1
    assert data["recent"]["llm"] == 2 and data["recent"]["keyword"] == 1 and data["recent"]["llm_share"] == 67
    assert data["recent"]["high_risk"] == 2 and data["recent"]["confidence"] == pytest.approx(2 / 3)


def test_stats_refuses_anonymous_and_users_without_ticket_permission(outsider):
    assert APIClient().get("/api/v1/stats/").status_code == 401
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/stats/").status_code == 403
