"""/metrics: figures read from the shared stores, through the real classifier chain and fake LLM."""

from __future__ import annotations

import math

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from classification import services
from classification.models import Classification
from supportintel.metrics import quantile
from tickets.tests.factories import TicketFactory
from workers import heartbeat

pytestmark = pytest.mark.django_db


def _scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _classify(body: str) -> Classification:
    ticket = TicketFactory.create(subject="Help", body=body)
    services.classify_ticket(ticket.pk)
    return Classification.objects.filter(ticket=ticket).latest("created")


def test_metrics_count_tickets_classifications_fallbacks_and_workers(client, fake_llm, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    llm_rows = [_classify("I was charged twice, please refund me") for _ in range(3)]
    fake_llm.state.configure({"mode": "error500"})
    _classify("The site is down with error 502")  # error, then the breaker trips on the next one
    _classify("The site is down with error 502")
    _classify("Cannot log in")  # breaker open: not sent
    TicketFactory.create_batch(2)  # queued
    TicketFactory.create(failed=True)
    heartbeat.beat("celery@a", pid=1, started_at=timezone.now())

    m = _scrape(client)
    assert m[("supportintel_tickets_received_total", ())] >= 9
    assert m[("supportintel_tickets", (("status", "classified"),))] == 6
    assert m[("supportintel_tickets", (("status", "queued"),))] == 2
    assert m[("supportintel_tickets", (("status", "failed"),))] == 1
    assert m[("supportintel_queue_depth", ())] == 2
    assert m[("supportintel_classifications_total", (("source", "llm"),))] == 3
    assert m[("supportintel_classifications_total", (("source", "keyword"),))] == 3
    assert m[("supportintel_classifications_total", (("source", "human"),))] == 0
    assert m[("supportintel_keyword_tickets", (("reason", "error"),))] == 2
    assert m[("supportintel_keyword_tickets", (("reason", "breaker_open"),))] == 1
    assert m[("supportintel_llm_breaker_state", (("state", "open"),))] == 1
    assert m[("supportintel_llm_breaker_state", (("state", "closed"),))] == 0
    assert m[("supportintel_llm_breaker_failures", ())] == 2
    assert m[("supportintel_llm_configured", ())] == 1
    assert m[("supportintel_workers", ())] == 1
    assert m[("supportintel_llm_recent_calls", ())] == 3
    slowest = max(row.latency_ms or 0 for row in llm_rows) / 1000
    assert m[("supportintel_llm_latency_seconds", (("quantile", "0.99"),))] == pytest.approx(slowest)
    spent = sum((row.prompt_tokens or 0) + (row.completion_tokens or 0) for row in llm_rows)
    assert m[("supportintel_llm_tokens_today", ())] == spent > 0


def test_metrics_on_an_empty_database(client):
    m = _scrape(client)
    assert m[("supportintel_tickets_received_total", ())] == 0
    assert m[("supportintel_llm_breaker_state", (("state", "closed"),))] == 1
    assert m[("supportintel_llm_configured", ())] == 0
    assert math.isnan(m[("supportintel_llm_latency_seconds", (("quantile", "0.5"),))])


def test_metrics_token_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")[("supportintel_workers", ())] == 0


def test_nearest_rank_quantile():
    values = [0.1, 0.2, 0.3, 0.4, 1.0]
    assert quantile(values, 0.5) == 0.3
    assert quantile(values, 0.99) == 1.0
    assert quantile([0.7], 0.5) == 0.7
