"""The breaker's rate conditions over its sliding window, on each storage: in memory (one process, or while
the shared one is down), in the database (the embedded default) and in Redis (production)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pybreaker
import pytest

from classification import breaker, llm
from classification.breaker.window import Sample


@pytest.fixture(params=["memory", "database", "redis"])
def storage(request: pytest.FixtureRequest, settings: Any, transactional_db: None) -> Iterator[str]:
    """The LLM's breaker on each storage, with the rate conditions set low enough to test."""
    settings.LLM_BREAKER_FAIL_MAX = 100  # the consecutive failures stay out of the way
    settings.LLM_BREAKER_WINDOW_SECONDS = 60
    settings.LLM_BREAKER_MIN_CALLS = 4
    settings.LLM_BREAKER_FAILURE_RATE = 30
    settings.LLM_BREAKER_SLOW_CALL_SECONDS = 5
    settings.LLM_BREAKER_SLOW_CALL_RATE = 50
    if request.param == "memory":
        yield "memory"
        return
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL; .ci/run runs this on Redis")
    settings.LLM_BREAKER_STORAGE = request.param
    store = breaker.SharedStorage(breaker.configured_backend(breaker.NAME))
    store.clear()
    breaker.install_storage(store)
    yield request.param
    store.clear()


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The window's clock, moved by the test: now[0] is the current time."""
    current = [1_800_000_000.0]
    monkeypatch.setattr(breaker, "clock", lambda: current[0])
    return current


def _ok() -> str:
    return "answer"


def _fail() -> str:
    raise llm.LLMError("error", "LLM answered 500")


def _slow_ok() -> str:
    time.sleep(0.06)  # over the 0.05 s the test sets as slow
    return "slow answer"


def _through(*calls: Callable[[], str]) -> list[str]:
    seen = []
    for func in calls:
        try:
            seen.append(breaker.call(func))
        except pybreaker.CircuitBreakerError as exc:
            cause = breaker.original_error(exc)
            seen.append(cause.reason if cause else "breaker_open")
        except llm.LLMError as exc:
            seen.append(exc.reason)
    return seen


def test_a_failure_rate_over_its_threshold_trips_the_breaker_and_says_so(storage, now):
    # 2 of 4 calls failed (50% > 30%), never two in a row: only the rate can have opened it.
    assert _through(_ok, _fail, _ok, _fail) == ["answer", "error", "answer", "error"]
    status = breaker.status()
    assert (status["state"], status["trip_reason"]) == ("open", "failure_rate")
    assert status["window"] | {"seconds": 60} == {
        "seconds": 60,
        "calls": 4,
        "failures": 2,
        "slow_calls": 0,
        "failure_rate": 50.0,
        "slow_call_rate": 0.0,
        "min_calls": 4,
        "failure_rate_threshold": 30,
        "slow_call_rate_threshold": 50,
        "slow_call_seconds": 5,
    }
    with pytest.raises(pybreaker.CircuitBreakerError, match=r"llm breaker open \(failure rate\)"):
        breaker.call(_ok)


def test_slow_calls_trip_the_breaker_even_when_they_succeed(storage, now, settings):
    settings.LLM_BREAKER_SLOW_CALL_SECONDS = 0.05
    assert _through(_ok, _slow_ok) == ["answer", "slow answer"]
    window = breaker.status()["window"]
    assert (window["calls"], window["failures"], window["slow_calls"]) == (2, 0, 1)  # a success, counted slow
    assert breaker.status()["state"] == "closed"  # 2 calls: below the minimum
    assert _through(_slow_ok, _slow_ok) == ["slow answer", "slow answer"]  # the tripping call keeps its answer
    status = breaker.status()
    assert (status["state"], status["trip_reason"], status["window"]["slow_call_rate"]) == (
        "open",
        "slow_call_rate",
        75.0,
    )
    assert _through(_ok) == ["breaker_open"]


def test_below_the_minimum_number_of_calls_no_rate_trips_it(storage, now, settings):
    settings.LLM_BREAKER_MIN_CALLS = 10
    assert _through(_fail, _ok, _fail, _ok, _fail, _ok) == ["error", "answer"] * 3
    status = breaker.status()
    assert status["state"] == "closed" and status["trip_reason"] is None
    assert (status["window"]["calls"], status["window"]["failure_rate"]) == (6, 50.0)


def test_calls_older_than_the_window_leave_it(storage, now):
    _through(_fail, _ok, _fail)  # 3 calls, 2 failed: one more failure would trip it
    now[0] += 59
    assert breaker.status()["window"]["calls"] == 3  # still within the 60 s
    now[0] += 1
    assert breaker.status()["window"]["calls"] == 0
    assert _through(_fail) == ["error"]
    status = breaker.status()
    assert status["state"] == "closed" and status["window"]["calls"] == 1


def test_consecutive_failures_are_reported_as_such(storage, now, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    settings.LLM_BREAKER_MIN_CALLS = 100
    assert _through(_fail, _fail, _ok) == ["error", "error", "breaker_open"]
    status = breaker.status()
    assert (status["state"], status["trip_reason"]) == ("open", "consecutive_failures")


def test_a_failed_trial_reopens_it_and_a_successful_one_starts_the_window_afresh(storage, now, settings):
    settings.LLM_BREAKER_RESET_SECONDS = 0.2
    _through(_ok, _fail, _ok, _fail)
    assert breaker.status()["trip_reason"] == "failure_rate"
    time.sleep(0.3)
    assert _through(_fail) == ["error"]  # the trial
    assert breaker.status()["trip_reason"] == "trial_failed"
    time.sleep(0.3)
    assert _through(_ok) == ["answer"]
    status = breaker.status()
    assert (status["state"], status["trip_reason"], status["window"]["calls"]) == ("closed", None, 0)


def test_an_error_that_says_nothing_about_the_llms_health_is_not_counted(storage, now):
    def bad_request() -> str:
        raise llm.LLMError("error", "LLM answered 400", counts=False)

    assert _through(bad_request, bad_request) == ["error", "error"]
    assert breaker.status()["window"]["calls"] == 0


def test_each_breaker_has_its_own_window(storage, now):
    breaker.call(_ok)
    breaker.call(_ok, llm.FALLBACK)
    breaker.call(_ok, llm.FALLBACK)
    assert breaker.status()["window"]["calls"] == 1
    assert breaker.status(llm.FALLBACK)["window"]["calls"] == 2


def test_the_window_counts_calls_from_every_process_sharing_it(storage, now):
    if storage == "memory":
        pytest.skip("memory is one process's own")
    # Another process's storage on the same backend (as a worker's would be).
    other = breaker.SharedStorage(breaker.configured_backend(breaker.NAME))
    for failed in (True, False, True):
        other.record_call(Sample(now[0], failed=failed, slow=False), 60, figures=False)
    breaker.call(_ok)
    window = breaker.status()["window"]
    assert (window["calls"], window["failures"]) == (4, 2)
