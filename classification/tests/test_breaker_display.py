"""Both breakers, which condition opened them and their windows, as the API and the dashboard show them."""

from __future__ import annotations

import contextlib

import pytest

from classification import breaker, llm

pytestmark = pytest.mark.django_db


def _trip_on_the_failure_rate(settings) -> None:
    settings.LLM_BREAKER_FAIL_MAX = 100
    settings.LLM_BREAKER_MIN_CALLS = 4
    settings.LLM_BREAKER_FAILURE_RATE = 30

    def fail() -> str:
        raise llm.LLMError("error", "LLM answered 500")

    for func in (lambda: "ok", fail, lambda: "ok", fail):
        with contextlib.suppress(llm.LLMError):
            breaker.call(func)


def test_the_api_shows_why_the_breaker_opened_and_its_window(api_client, fake_llm, settings):
    _trip_on_the_failure_rate(settings)
    data = api_client.get("/api/v1/breaker/").json()
    assert (data["state"], data["trip_reason"], data["model"], data["fallback"]) == (
        "open",
        "failure_rate",
        "fake-classifier",
        None,
    )
    assert data["window"]["calls"] == 4 and data["window"]["failures"] == 2 and data["window"]["failure_rate"] == 50.0
    assert data["window"]["min_calls"] == 4 and data["window"]["failure_rate_threshold"] == 30


def test_the_api_shows_the_fallback_models_own_breaker(api_client, fake_llm, settings):
    settings.LLM_FALLBACK_MODEL = "fake-fallback"
    settings.LLM_BREAKER_FAIL_MAX = 1
    breaker.call(lambda: "ok", llm.FALLBACK)
    data = api_client.get("/api/v1/breaker/").json()
    fallback = data["fallback"]
    assert (data["state"], fallback["state"], fallback["model"], fallback["trip_reason"]) == (
        "closed",
        "closed",
        "fake-fallback",
        None,
    )
    assert fallback["window"]["calls"] == 1 and data["window"]["calls"] == 0


def test_the_breaker_api_is_for_agents_only(client, outsider):
    assert client.get("/api/v1/breaker/").status_code == 401
    client.force_login(outsider)
    assert client.get("/api/v1/breaker/").status_code == 403


def test_the_dashboard_says_which_condition_opened_the_breaker_and_shows_the_fallback_model(
    agent_client, fake_llm, settings
):
    _trip_on_the_failure_rate(settings)
    settings.LLM_FALLBACK_MODEL = "fake-fallback"
    html = agent_client.get("/stats/", HTTP_HX_REQUEST="true").content.decode()
    assert "(failure rate), trial at" in html
    assert "Fallback model breaker" in html and "fake-fallback: closed, 0/100 failures in a row" in html
    badge = agent_client.get("/breaker/", HTTP_HX_REQUEST="true").content.decode()
    assert "LLM breaker open · fallback closed" in badge
    assert "last 60 s: 0 calls" in badge  # the fallback model's window, in the badge's title
