from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_stats_gives_the_dashboard_numbers_and_charts(api_client):
    TicketFactory.create_batch(2, classified=True, classification_source="llm", confidence=0.8, risk=0.9)
    TicketFactory.create(classified=True, confidence=0.4, category="billing")
    TicketFactory.create(failed=True)
    TicketFactory.create()
    data = api_client.get("/api/v1/stats/").json()
    assert data["counts"] == {"queued": 1, "processing": 0, "failed": 1, "classified": 3, "total": 5}
    assert data["queue_depth"] == 1 and data["work"]["open"] == 5
    assert data["period"]["range"] == "7d" and len(data["charts"]["volume"]) == 7
    summary = data["summary"]
    assert summary["llm"] == 2 and summary["keyword"] == 1 and summary["llm_share"] == 67
    assert summary["high_risk"] == 2 and summary["confidence"] == pytest.approx(2 / 3)
    billing = next(bar for bar in data["charts"]["categories"] if bar["css"] == "cat-billing")
    assert billing == {"key": "billing", "label": "Billing and payments", "value": 1, "css": "cat-billing"}


def test_stats_give_every_split_the_averages_and_volume_per_hour_and_day(api_client):
    TicketFactory.create(classified=True, team="billing", channel="chat", classification_source="llm", risk=0.8)
    TicketFactory.create(classified=True, team="escalation", channel="chat", risk=0.4, confidence=0.9)
    charts = api_client.get("/api/v1/stats/?range=today").json()["charts"]
    assert {bar["key"]: bar["value"] for bar in charts["teams"]} == {"billing": 1, "escalation": 1}
    assert {bar["key"]: bar["value"] for bar in charts["sources"]} == {
        "llm": 1,
        "llm_backup": 0,
        "learned": 0,
        "keyword": 1,
        "human": 0,
    }
    assert next(bar["value"] for bar in charts["channels"] if bar["key"] == "chat") == 2
    assert (charts["averages"]["risk"], charts["averages"]["confidence"]) == (0.6, 0.7)
    assert len(charts["volume_per_hour"]) == 24 and sum(slot["value"] for slot in charts["volume_per_hour"]) == 2
    assert [slot["value"] for slot in charts["volume_per_day"]] == [2]
    assert charts["volume_per_day"][0]["start"].startswith(timezone.localdate().isoformat())
    month = api_client.get("/api/v1/stats/?range=30d").json()["charts"]
    assert month["volume_per_hour"] is None and len(month["volume_per_day"]) == 30


def test_the_schema_documents_every_field_the_stats_answer_has(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    operation = schema["paths"]["/api/v1/stats/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Stats"
    }
    data = api_client.get("/api/v1/stats/").json()
    assert set(components["Stats"]["properties"]) == set(data)
    assert set(components["Charts"]["properties"]) == set(data["charts"])
    assert set(components["Averages"]["properties"]) == set(data["charts"]["averages"])
    assert set(components["Bar"]["properties"]) == set(
        data["charts"]["teams"][0] if data["charts"]["teams"] else data["charts"]["channels"][0]
    )
    assert components["Charts"]["properties"]["volume_per_hour"]["nullable"] is True


def test_stats_takes_today_and_custom_ranges(api_client):
    TicketFactory.create(created=timezone.now() - timedelta(days=3))
    today = api_client.get("/api/v1/stats/?range=today").json()
    assert today["period"]["step"] == "hour" and today["summary"]["received"] == 0
    start = (timezone.localdate() - timedelta(days=4)).isoformat()
    custom = api_client.get(f"/api/v1/stats/?range=custom&start={start}&end={timezone.localdate().isoformat()}")
    assert custom.json()["summary"]["received"] == 1 and len(custom.json()["charts"]["volume"]) == 5


def test_stats_refuses_a_bad_range_with_the_envelope(api_client):
    response = api_client.get("/api/v1/stats/?range=custom&start=2026-12-05&end=2026-01-01")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_stats_refuses_anonymous_and_users_without_ticket_permission(outsider):
    assert APIClient().get("/api/v1/stats/").status_code == 401
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/stats/").status_code == 403


def test_a_bad_range_names_the_problem_in_plain_words(api_client):
    details = api_client.get("/api/v1/stats/?range=custom").json()["error"]["details"]
    assert details == {"__all__": ["A custom range needs both dates."]}
