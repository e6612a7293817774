"""One breaker for the web process and every worker process, on each storage (the database without
Redis, Redis with it), and recovery after an outage with no new traffic: a real worker, the fake LLM."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import wait_for
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAIL_MAX = 3
CONCURRENCY = 2


def _worker_env(fake_llm: Any, storage: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "test",
        "LLM_MODEL": "fake-classifier",
        "LLM_TIMEOUT_SECONDS": "2",
        "LLM_BREAKER_STORAGE": storage,
        **extra,
    }


def _post(api_client: Any, count: int) -> list[int]:
    ids = []
    for index in range(count):
        body = {"subject": f"Refund {index}", "body": "I was charged twice for my order."}
        response = api_client.post("/api/v1/tickets/", body, format="json")
        assert response.status_code == 202
        ids.append(response.data["id"])
    return ids


def _classified(ids: list[int], **where: str) -> list[Ticket]:
    """All these tickets, once every one is classified (and matches `where`); until then, nothing."""
    tickets = list(Ticket.objects.filter(pk__in=ids, status=Status.CLASSIFIED, **where).order_by("pk"))
    return tickets if len(tickets) == len(ids) else []


def test_worker_processes_count_failures_into_one_breaker_that_the_api_shows(
    api_client, fake_llm, shared_breaker, celery_worker_process
):
    # Each failing call takes a moment, so both pool processes are busy at once.
    fake_llm.state.configure({"mode": "error500", "latency_ms": 300})
    env = _worker_env(fake_llm, shared_breaker, LLM_BREAKER_FAIL_MAX=str(FAIL_MAX), LLM_BREAKER_RESET_SECONDS="600")
    celery_worker_process(concurrency=CONCURRENCY, **env)
    ids = _post(api_client, 8)
    reasons = [t.fallback_reason for t in wait_for(lambda: _classified(ids), timeout=120)]

    errors = reasons.count("error")
    # FAIL_MAX failures open it for everyone, plus at most the calls already in flight then; with a
    # breaker per process it would take FAIL_MAX failures in each.
    assert FAIL_MAX <= errors <= FAIL_MAX + CONCURRENCY - 1, reasons
    assert reasons.count("breaker_open") == len(ids) - errors
    assert fake_llm.state.stats()["requests"] == errors

    [late] = _post(api_client, 1)
    [ticket] = wait_for(lambda: _classified([late]), timeout=60)
    assert ticket.fallback_reason == "breaker_open"
    assert fake_llm.state.stats()["requests"] == errors

    shown = api_client.get("/api/v1/breaker/").json()  # this process is the web process here
    assert shown["state"] == "open" and shown["fail_counter"] >= FAIL_MAX
    assert shown["storage"] == shared_breaker and shown["next_trial_at"]


def test_outage_tickets_go_back_to_the_llm_when_it_heals_with_no_new_tickets(
    api_client, fake_llm, shared_breaker, celery_worker_process
):
    fake_llm.state.configure({"mode": "error500"})
    env = _worker_env(
        fake_llm,
        shared_breaker,
        LLM_BREAKER_FAIL_MAX="1",
        # Long enough that the tickets posted at once meet the open breaker, not a trial call.
        LLM_BREAKER_RESET_SECONDS="3",
        LLM_RECOVERY_INTERVAL_SECONDS="2",
    )
    celery_worker_process(concurrency=CONCURRENCY, beat=True, **env)
    ids = _post(api_client, 4)
    outage = wait_for(lambda: _classified(ids), timeout=120)
    assert {t.classification_source for t in outage} == {"keyword"}
    assert "breaker_open" in {t.fallback_reason for t in outage}

    fake_llm.state.configure({"mode": "ok"})  # the LLM heals; nobody posts anything
    healed = wait_for(lambda: _classified(ids, classification_source="llm"), timeout=120)
    assert [t.pk for t in healed] == ids
    for ticket in Ticket.objects.filter(pk__in=ids):
        sources = list(ticket.classifications.order_by("created", "id").values_list("source", flat=True))
        assert sources[0] == "keyword" and sources[-1] == "llm"
    assert api_client.get("/api/v1/breaker/").json()["state"] == "closed"
