"""The second model (LLM_FALLBACK_MODEL) and the breakers' rate conditions in the classifier chain, over real
HTTP against two of the repository's fake OpenAI-compatible servers, with the breakers' state in the
database and in Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from classification import services
from classification.fake_llm import FakeLLMServer
from classification.models import Classification
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.usefixtures("default_taxonomy")


@pytest.fixture
def fallback_llm(fake_llm: FakeLLMServer, settings: Any) -> Iterator[FakeLLMServer]:
    """A second fake server for the fallback model, on its own port (its own faults and counts)."""
    server = FakeLLMServer("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.LLM_FALLBACK_MODEL = "fake-fallback"
    settings.LLM_FALLBACK_BASE_URL = server.base_url
    yield server
    server.shutdown()
    server.server_close()


def _classify(subject: str = "Refund", body: str = "I was charged twice, please refund me") -> Classification:
    ticket = TicketFactory.create(subject=subject, body=body)
    services.classify_ticket(ticket.pk)
    return Classification.objects.filter(ticket=ticket).latest("created")


def test_when_the_llm_fails_the_fallback_model_answers_and_the_llms_reason_is_kept(
    fake_llm, fallback_llm, shared_breaker
):
    fake_llm.state.configure({"mode": "error500"})
    row = _classify()
    row.ticket.refresh_from_db()
    assert (row.source, row.ticket.classification_source) == ("llm_backup", "llm_backup")
    assert (row.model_name, row.category, row.fallback_reason) == ("fake-fallback", "billing", "error")
    assert "500" in row.fallback_detail and row.ticket.fallback_reason == "error"
    assert row.prompt_tokens and row.latency_ms is not None
    assert fallback_llm.state.stats()["completions"] == 1
    status = services.breaker_status()
    assert status["fail_counter"] == 1 and status["fallback"]["fail_counter"] == 0


def test_when_both_models_fail_the_keyword_rules_answer_with_both_reasons(fake_llm, fallback_llm, shared_breaker):
    fake_llm.state.configure({"mode": "error500"})
    fallback_llm.state.configure({"mode": "timeout"})
    row = _classify()
    assert (row.source, row.fallback_reason, row.category) == ("keyword", "error", "billing")
    assert "fallback fake-fallback: timeout" in row.fallback_detail


def test_the_fallback_models_breaker_is_its_own(fake_llm, fallback_llm, shared_breaker, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    fake_llm.state.configure({"mode": "error500"})
    assert [_classify().source for _ in range(2)] == ["llm_backup"] * 2
    row = _classify()  # the LLM's breaker is open: not asked, the fallback model still is
    assert (row.source, row.fallback_reason) == ("llm_backup", "breaker_open")
    assert fake_llm.state.stats()["requests"] == 2
    status = services.breaker_status()
    assert (status["state"], status["trip_reason"]) == ("open", "consecutive_failures")
    assert (status["fallback"]["state"], status["fallback"]["model"]) == ("closed", "fake-fallback")

    fallback_llm.state.configure({"mode": "error500"})
    assert [_classify().source for _ in range(2)] == ["keyword"] * 2
    row = _classify()
    assert (row.source, row.fallback_reason) == ("keyword", "breaker_open")
    assert "fallback fake-fallback: breaker_open" in row.fallback_detail
    assert fallback_llm.state.stats()["requests"] == 3 + 2  # three answers, two failures, then nothing
    assert services.breaker_status()["fallback"]["state"] == "open"


def test_a_failure_rate_trips_the_breaker_and_the_chain_falls_back_with_its_reason(fake_llm, shared_breaker, settings):
    settings.LLM_BREAKER_FAIL_MAX = 50
    settings.LLM_BREAKER_MIN_CALLS = 6
    settings.LLM_BREAKER_FAILURE_RATE = 20
    fake_llm.state.configure({"fail_rate": 0.5})  # half the requests answered 500 (seeded, so always the same)
    rows: list[Classification] = []
    while services.breaker_status()["state"] == "closed" and len(rows) < 30:
        rows.append(_classify())
    status = services.breaker_status()
    assert (status["state"], status["trip_reason"]) == ("open", "failure_rate")
    assert len(rows) >= 6  # not before the window held its minimum of calls
    assert status["window"]["failure_rate"] > 20 and status["fail_counter"] < 50
    requests = fake_llm.state.stats()["requests"]
    row = _classify()
    assert (row.source, row.fallback_reason) == ("keyword", "breaker_open")
    assert "failure rate" in row.fallback_detail
    assert fake_llm.state.stats()["requests"] == requests


def test_slow_answers_trip_the_breaker_and_the_fallback_model_takes_over(
    fake_llm, fallback_llm, shared_breaker, settings
):
    settings.LLM_BREAKER_MIN_CALLS = 3
    settings.LLM_BREAKER_SLOW_CALL_SECONDS = 0.2
    settings.LLM_BREAKER_SLOW_CALL_RATE = 50
    fake_llm.state.configure({"latency_ms": 300})  # every answer right, and slow
    assert [_classify().source for _ in range(3)] == ["llm"] * 3
    status = services.breaker_status()
    assert (status["state"], status["trip_reason"], status["window"]["slow_calls"]) == ("open", "slow_call_rate", 3)
    row = _classify()
    assert (row.source, row.model_name, row.fallback_reason) == ("llm_backup", "fake-fallback", "breaker_open")
    assert "slow-call rate" in row.fallback_detail


def test_each_model_keeps_its_own_daily_budget(fake_llm, fallback_llm, settings, shared_breaker):
    settings.LLM_DAILY_TOKEN_BUDGET = 1
    first = _classify()  # spends the LLM's budget
    second = _classify()
    assert (first.source, second.source, second.fallback_reason) == ("llm", "llm_backup", "over_budget")
    settings.LLM_FALLBACK_DAILY_TOKEN_BUDGET = 1
    third = _classify()
    assert (third.source, third.fallback_reason) == ("keyword", "over_budget")
    assert "fallback fake-fallback: over_budget" in third.fallback_detail
    assert services.llm_spent_today("llm_backup")["tokens"] == (second.prompt_tokens or 0) + (
        second.completion_tokens or 0
    )
