"""/metrics: figures read from the shared stores, through the real classifier chain and fake LLM."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from classification import services
from classification.models import Classification
from classification.tests.factories import ClassificationFactory
from supportintel.metrics import quantile
from tickets.tests.factories import TicketFactory
from workers import heartbeat

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


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


def test_metrics_count_tickets_classifications_fallbacks_and_workers(admin_client, fake_llm, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    llm_rows = [_classify("I was charged twice, please refund me") for _ in range(3)]
    fake_llm.state.configure({"mode": "error500"})
    _classify("The site is down with error 502")  # error, then the breaker trips on the next one
    _classify("The site is down with error 502")
    _classify("Cannot log in")  # breaker open: not sent
    TicketFactory.create_batch(2)  # queued
    TicketFactory.create(failed=True)
    heartbeat.beat("celery@a", pid=1, started_at=timezone.now())

    m = _scrape(admin_client)
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
    assert m[("supportintel_llm_breaker_state", (("breaker", "llm"), ("state", "open")))] == 1
    assert m[("supportintel_llm_breaker_state", (("breaker", "llm"), ("state", "closed")))] == 0
    assert m[("supportintel_llm_breaker_failures", (("breaker", "llm"),))] == 2
    assert m[("supportintel_llm_breaker_tripped", (("breaker", "llm"), ("reason", "consecutive_failures")))] == 1
    assert m[("supportintel_llm_breaker_tripped", (("breaker", "llm"), ("reason", "failure_rate")))] == 0
    assert m[("supportintel_llm_breaker_window_calls", (("breaker", "llm"),))] == 5
    assert m[("supportintel_llm_breaker_window_failures", (("breaker", "llm"),))] == 2
    assert m[("supportintel_llm_breaker_window_slow_calls", (("breaker", "llm"),))] == 0
    assert m[("supportintel_llm_fallback_configured", ())] == 0
    assert not any(labels and labels[0] == ("breaker", "llm_fallback") for _, labels in m)  # no fallback model
    assert m[("supportintel_llm_configured", ())] == 1
    assert m[("supportintel_workers", ())] == 1
    assert m[("supportintel_llm_recent_calls", ())] == 3
    slowest = max(row.latency_ms or 0 for row in llm_rows) / 1000
    assert m[("supportintel_llm_latency_seconds", (("quantile", "0.99"),))] == pytest.approx(slowest)
    spent = sum((row.prompt_tokens or 0) + (row.completion_tokens or 0) for row in llm_rows)
    assert m[("supportintel_llm_tokens_today", ())] == spent > 0


def test_metrics_show_the_fallback_models_breaker_and_spend(admin_client, fake_llm, settings):
    settings.LLM_FALLBACK_MODEL = "fake-fallback"  # on the same fake server
    settings.LLM_BREAKER_FAIL_MAX = 1
    fake_llm.state.configure({"mode": "error500"})
    row = _classify("I was charged twice")  # both fail: each breaker opens
    m = _scrape(admin_client)
    assert row.source == "keyword"
    for breaker in ("llm", "llm_fallback"):
        assert m[("supportintel_llm_breaker_state", (("breaker", breaker), ("state", "open")))] == 1
        assert m[("supportintel_llm_breaker_window_failures", (("breaker", breaker),))] == 1
    assert m[("supportintel_llm_fallback_configured", ())] == 1
    ClassificationFactory.create(source="llm_backup", prompt_tokens=100, completion_tokens=20)
    settings.LLM_FALLBACK_DAILY_TOKEN_BUDGET = 500
    m = _scrape(admin_client)
    assert m[("supportintel_llm_fallback_tokens_today", ())] == 120
    assert m[("supportintel_llm_tokens_today", ())] == 0  # the LLM's own spend stays apart
    assert m[("supportintel_llm_fallback_daily_token_budget", ())] == 500
    assert m[("supportintel_classifications_total", (("source", "llm_backup"),))] == 1


def test_metrics_on_an_empty_database(admin_client):
    m = _scrape(admin_client)
    assert m[("supportintel_tickets_received_total", ())] == 0
    assert m[("supportintel_llm_breaker_state", (("breaker", "llm"), ("state", "closed")))] == 1
    assert m[("supportintel_llm_configured", ())] == 0
    assert math.isnan(m[("supportintel_llm_latency_seconds", (("quantile", "0.5"),))])


def test_metrics_token_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")[("supportintel_workers", ())] == 0


def test_metrics_are_closed_to_anonymous_and_non_staff_users_by_default_in_production(client, agent_client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "supportintel_" not in response.content.decode()
    assert agent_client.get("/metrics").status_code == 401  # may read tickets, but is not staff


def test_a_staff_session_reads_metrics_with_or_without_a_token(admin_client, settings):
    assert _scrape(admin_client)[("supportintel_workers", ())] == 0
    settings.METRICS_TOKEN = "s3cret"
    assert _scrape(admin_client)[("supportintel_workers", ())] == 0


def test_metrics_public_opens_them_to_anyone(client, settings):
    settings.METRICS_PUBLIC = True
    assert _scrape(client)[("supportintel_workers", ())] == 0


@pytest.mark.parametrize(
    ("env", "public"),
    [
        ({"DEBUG": "0"}, False),
        ({"DEBUG": "0", "METRICS_PUBLIC": "1"}, True),
        ({"DEBUG": "1"}, True),  # make run: loopback, for trying the product
        ({"DEBUG": "1", "METRICS_TOKEN": "t"}, False),
        ({"DEBUG": "1", "METRICS_PUBLIC": "0"}, False),
    ],
)
def test_metrics_are_public_only_when_the_operator_says_so_or_with_debug(env, public):
    result = _settings_value("METRICS_PUBLIC", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(public)


def test_a_public_metrics_endpoint_with_a_token_is_a_configuration_error():
    result = _settings_value("METRICS_PUBLIC", {"DEBUG": "0", "METRICS_PUBLIC": "1", "METRICS_TOKEN": "t"})
    assert result.returncode != 0 and "not both" in result.stderr


def _settings_value(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "METRICS_PUBLIC", "METRICS_TOKEN")}
    clean["DJANGO_SETTINGS_MODULE"] = "supportintel.settings"
    return subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def test_nearest_rank_quantile():
    values = [0.1, 0.2, 0.3, 0.4, 1.0]
    assert quantile(values, 0.5) == 0.3
    assert quantile(values, 0.99) == 1.0
    assert quantile([0.7], 0.5) == 0.7
