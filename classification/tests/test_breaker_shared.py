"""The breaker across processes (Redis or the database), with Redis down, and a real worker on the LLM path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pybreaker
import pytest

from classification import breaker, llm
from conftest import ROOT, child_env, wait_for
from tickets.models import Status, Ticket

CATEGORIES = [
    llm.CategoryChoice("billing", "Billing", "money", "billing"),
    llm.CategoryChoice("general", "General", "other", "frontline"),
]

# A separate Python process that tries N LLM calls through the breaker and prints what it saw.
PROBE = textwrap.dedent(
    """
    import os, sys, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    django.setup()
    import pybreaker
    from classification import breaker, llm
    cats = [llm.CategoryChoice("billing", "Billing", "money", "billing"),
            llm.CategoryChoice("general", "General", "other", "frontline")]
    seen = []
    for _ in range(int(sys.argv[1])):
        try:
            breaker.call(lambda: llm.classify("Refund", "charged twice", "", cats, ["billing", "frontline"]))
            seen.append("ok")
        except pybreaker.CircuitBreakerError as exc:
            cause = breaker.original_error(exc)
            seen.append(cause.reason if cause else "breaker_open")
        except llm.LLMError as exc:
            seen.append(exc.reason)
    print(",".join(seen), breaker.status()["state"])
    """
)


def _probe(calls: int, fake_url: str, storage: str) -> str:
    env = child_env(
        LLM_BREAKER_STORAGE=storage,
        OPENAI_BASE_URL=fake_url,
        OPENAI_API_KEY="test",
        LLM_MODEL="fake-classifier",
        LLM_TIMEOUT_SECONDS="1",
        LLM_BREAKER_FAIL_MAX="2",
        LLM_BREAKER_RESET_SECONDS="60",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(calls)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.e2e
def test_two_processes_share_one_breaker_state(fake_llm, shared_breaker):
    fake_llm.state.configure({"mode": "error500"})
    assert _probe(2, fake_llm.base_url, shared_breaker) == "error,error open"  # process A trips it
    # process B sees it
    assert _probe(3, fake_llm.base_url, shared_breaker) == "breaker_open,breaker_open,breaker_open open"
    assert fake_llm.state.stats()["requests"] == 2  # B never reached the LLM
    assert breaker.status()["state"] == "open"  # and so does this process


def test_with_redis_down_the_breaker_builds_and_answers_from_local_state():
    # pybreaker's own Redis storage connects (and raises) in its constructor; ours must not, and its
    # first use must fall back instead of failing.
    store = breaker.SharedStorage(breaker.RedisBackend(breaker.redis_client("redis://127.0.0.1:1/0")))
    breaker.install_storage(store)
    status = breaker.status()
    assert status["state"] == "closed" and status["fail_counter"] == 0
    assert status["storage"] == "memory (Redis unreachable)"


@pytest.mark.django_db
def test_while_redis_is_down_each_process_still_opens_its_own_breaker(fake_llm, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    down = breaker.SharedStorage(breaker.RedisBackend(breaker.redis_client("redis://127.0.0.1:1/0")))
    breaker.install_storage(down)
    fake_llm.state.configure({"mode": "error500"})
    for _ in range(2):
        with pytest.raises((llm.LLMError, pybreaker.CircuitBreakerError)):
            breaker.call(lambda: llm.classify("a", "b", "", CATEGORIES, ["billing", "frontline"]))
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: llm.classify("a", "b", "", CATEGORIES, ["billing", "frontline"]))
    status = breaker.status()
    assert status["state"] == "open" and status["storage"] == "memory (Redis unreachable)"
    assert fake_llm.state.stats()["requests"] == 2


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_classifies_through_the_fake_llm(api_client, fake_llm, celery_worker_process):
    # No specialist draft: its own LLM call would race the count below (resolutions/tests cover it).
    celery_worker_process(
        OPENAI_BASE_URL=fake_llm.base_url, OPENAI_API_KEY="test", LLM_MODEL="fake-classifier", RESOLUTION_ENABLED="0"
    )
    response = api_client.post("/api/v1/tickets/", {"subject": "Refund", "body": "Charged twice"}, format="json")
    ticket = wait_for(lambda: Ticket.objects.filter(pk=response.data["id"], status=Status.CLASSIFIED).first(), 90)
    row = ticket.classifications.get()
    assert (row.source, row.category, row.model_name) == ("llm", "billing", "fake-classifier")
    assert fake_llm.state.stats()["completions"] == 1
