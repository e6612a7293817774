"""The circuit breaker around the LLM (pybreaker), with its state shared by every process.

Design decisions, each covered by a test:

- The state lives where every process, web and workers alike, reads the same truth
  (LLM_BREAKER_STORAGE): in Redis when REDIS_URL is set (`RedisBackend`, our equivalent of pybreaker's
  CircuitRedisStorage), otherwise in one row of the database (`DatabaseBackend`: the embedded default's
  SQLite file, or PostgreSQL run without Redis). Every change is one atomic statement (INCR, or
  `UPDATE … SET fail_counter = fail_counter + 1`), so failures in different processes all count and the
  threshold holds across processes. A read is one round trip (MGET, or one SELECT by primary key).
  Nothing connects at import or construction: the storage talks to its backend on first use.
- While the backend is unreachable (Redis down; the database down, or SQLite locked past its timeout),
  each process keeps the breaker state in its own memory and logs that once, so a process still opens
  its breaker after LLM_BREAKER_FAIL_MAX failures. pybreaker's own Redis storage would read "closed" and
  a zero counter instead and never open. The backend is tried again every few seconds; once it answers,
  its shared state is used again (logged once too).
- pybreaker holds one lock for the whole guarded call (its issue #55), which would make concurrent LLM
  calls in one process wait for each other. So every thread gets its own CircuitBreaker object; they all
  share this process's storage, hence the state.
- After the reset timeout only one caller, across all processes, gets the trial call (a token with an
  expiry in the backend, or a lock in memory); the others fall back at once instead of all probing a
  sick LLM.
- The call that trips the breaker raises CircuitBreakerError; the caller reads the original error from
  its __context__ (`original_error`).
- Besides LLM_BREAKER_FAIL_MAX consecutive failures (pybreaker's own condition), it trips on rates over a
  sliding window of the last LLM_BREAKER_WINDOW_SECONDS, shared like the rest of the state
  (`breaker.window`): the share of failed calls, or of calls slower than LLM_BREAKER_SLOW_CALL_SECONDS
  (successful ones too), over its threshold once the window holds LLM_BREAKER_MIN_CALLS calls. Each call
  made while closed adds one sample (one write: a pipelined round trip on Redis, one upsert in the
  database); only a failed or slow call reads the window back to evaluate it. Which condition opened the
  breaker is kept with its state (`trip_reason`). Open, half-open and the trial are pybreaker's as before;
  the window starts empty once the breaker closes again.
- There is one breaker per model: `llm` for the first, `llm_fallback` for the second (LLM_FALLBACK_MODEL),
  each with its own state (its own Redis namespace or database row) and the same thresholds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pybreaker
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from classification.breaker.storage import (
    NAMESPACE as NAMESPACE,
)
from classification.breaker.storage import (
    Backend,
    DatabaseBackend,
    RedisBackend,
    SharedStorage,
    Snapshot,
    namespace,
)
from classification.breaker.window import Figures, Sample
from classification.llm import FALLBACK, PRIMARY, LLMError
from classification.models import TripReason

logger = logging.getLogger(__name__)

T = TypeVar("T")
NAMES = (PRIMARY, FALLBACK)
NAME = PRIMARY
# The window's clock (seconds since the epoch): tests move it instead of waiting.
clock: Callable[[], float] = time.time

# Why the breaker opened.
CONSECUTIVE_FAILURES = TripReason.CONSECUTIVE_FAILURES
FAILURE_RATE = TripReason.FAILURE_RATE
SLOW_CALL_RATE = TripReason.SLOW_CALL_RATE
TRIAL_FAILED = TripReason.TRIAL_FAILED
TRIP_REASONS = dict(TripReason.choices)


class _LoggingListener(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        # Each process logs the change it notices, so one change may be logged once per process.
        logger.warning(
            "%s breaker %s -> %s (failures: %s)",
            cb.name,
            old_state and old_state.name,
            new_state.name,
            cb.fail_counter,
        )


class _CircuitBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker, keeping which condition opened it, and starting the window afresh on closing."""

    def open(self, reason: str = "") -> bool:
        # pybreaker itself opens it on the consecutive failures (closed) or on a failed trial (half-open).
        if not reason:
            reason = TRIAL_FAILED if self._state.name == pybreaker.STATE_HALF_OPEN else CONSECUTIVE_FAILURES
        self._state_storage.trip_reason = reason  # type: ignore[attr-defined]  # our SharedStorage
        return super().open()

    def close(self) -> None:
        # resilience4j's rule: a closed breaker judges only the calls made since it closed.
        self._state_storage.clear_window()  # type: ignore[attr-defined]  # our SharedStorage
        super().close()


def _exclude(exc: BaseException) -> bool:
    # An error that says nothing about the LLM's health (e.g. a 400 for one request) does not count.
    return isinstance(exc, LLMError) and not exc.counts


def redis_client(url: str) -> redis.Redis:
    """A raw client (bytes, no decode_responses) that fails fast: no retries, one-second timeouts."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


def configured_backend(name: str = NAME) -> Backend:
    """The backend LLM_BREAKER_STORAGE names for breaker `name`: Redis (the default with REDIS_URL) or the
    database."""
    if settings.LLM_BREAKER_STORAGE == "redis":
        return RedisBackend(redis_client(settings.REDIS_URL), namespace(name))
    return DatabaseBackend(name)


@dataclass(frozen=True)
class Rules:
    """When a breaker trips (the LLM_BREAKER_* settings, read at each use) and how long its calls may take."""

    fail_max: int
    reset_seconds: float
    window_seconds: int
    min_calls: int
    failure_rate: float  # percent; 0: off
    slow_call_seconds: float
    slow_call_rate: float  # percent; 0: off
    call_seconds: float

    def tripped(self, figures: Figures) -> str:
        """The rate condition the window's figures meet (resilience4j's, with "over" the threshold), or ""."""
        if figures.calls < self.min_calls:
            return ""
        if self.failure_rate and 100 * figures.failures / figures.calls > self.failure_rate:
            return FAILURE_RATE
        if self.slow_call_rate and 100 * figures.slow / figures.calls > self.slow_call_rate:
            return SLOW_CALL_RATE
        return ""


def rules(name: str = NAME) -> Rules:
    call_seconds = settings.LLM_TIMEOUT_SECONDS
    if name == FALLBACK:
        call_seconds = settings.LLM_FALLBACK_TIMEOUT_SECONDS or call_seconds
    return Rules(
        fail_max=settings.LLM_BREAKER_FAIL_MAX,
        reset_seconds=settings.LLM_BREAKER_RESET_SECONDS,
        window_seconds=settings.LLM_BREAKER_WINDOW_SECONDS,
        min_calls=settings.LLM_BREAKER_MIN_CALLS,
        failure_rate=settings.LLM_BREAKER_FAILURE_RATE,
        slow_call_seconds=settings.LLM_BREAKER_SLOW_CALL_SECONDS,
        slow_call_rate=settings.LLM_BREAKER_SLOW_CALL_RATE,
        call_seconds=call_seconds,
    )


_process_lock = threading.Lock()
_process: dict[str, Any] = {"storages": {}}
_threads = threading.local()


def storage(name: str = NAME) -> SharedStorage:
    """This process's storage for breaker `name`, built on first use (never at import: Django and the worker
    must start while Redis or the database is down)."""
    with _process_lock:
        if _process.get("pid") != os.getpid():
            _process.update(pid=os.getpid(), storages={})
        storages = _process["storages"]
        if storages.get(name) is None:
            storages[name] = SharedStorage(configured_backend(name))
        return storages[name]


def _breaker(name: str) -> _CircuitBreaker:
    store = storage(name)
    breakers = getattr(_threads, "breakers", None)
    if breakers is None:
        breakers = _threads.breakers = {}
    breaker = breakers.get(name)
    if breaker is None or breaker._state_storage is not store:
        breaker = breakers[name] = _CircuitBreaker(
            exclude=[_exclude], listeners=[_LoggingListener()], state_storage=store, name=name
        )
    breaker.fail_max = settings.LLM_BREAKER_FAIL_MAX
    breaker.reset_timeout = settings.LLM_BREAKER_RESET_SECONDS
    return breaker


def _trial_due(snapshot: Snapshot) -> bool:
    if snapshot.state == pybreaker.STATE_HALF_OPEN:
        return True
    if snapshot.state != pybreaker.STATE_OPEN:
        return False
    opened = snapshot.opened_at
    return opened is None or time.time() - opened >= settings.LLM_BREAKER_RESET_SECONDS


def trial_due(name: str = NAME) -> bool:
    """True when the next call through the breaker would be its trial call: open past the reset time
    (or half-open)."""
    return _trial_due(storage(name).snapshot())


def lets_calls_through(name: str = NAME) -> bool:
    """True when a call through the breaker would reach the LLM: closed, or its trial is due (one read)."""
    snapshot = storage(name).snapshot()
    return snapshot.state == pybreaker.STATE_CLOSED or _trial_due(snapshot)


def _trial(name: str, breaker: _CircuitBreaker, func: Callable[[], T]) -> T:
    store = storage(name)
    if not store.take_trial(rules(name).call_seconds + 5):
        raise pybreaker.CircuitBreakerError(f"{name} breaker is half-open and another trial call is in flight")
    try:
        return breaker.call(func)
    finally:
        store.release_trial()


def _count(name: str, breaker: _CircuitBreaker, seconds: float, error: BaseException | None) -> None:
    """Count a call made while the breaker was closed in its window and, if it failed or was slow, trip the
    breaker when a rate is over its threshold."""
    if error is not None and _exclude(error):
        return  # as for pybreaker: says nothing about the LLM's health (resilience4j's ignored exceptions)
    limits = rules(name)
    sample = Sample(at=clock(), failed=error is not None, slow=seconds > limits.slow_call_seconds)
    store = storage(name)
    figures = store.record_call(sample, limits.window_seconds, figures=sample.failed or sample.slow)
    if isinstance(error, pybreaker.CircuitBreakerError) or figures is None or not (sample.failed or sample.slow):
        return  # this call tripped it already (consecutive failures), or it cannot have raised a rate
    reason = limits.tripped(figures)
    if reason and store.state == pybreaker.STATE_CLOSED:  # not opened meanwhile by another caller
        logger.warning(
            "%s breaker: %s over its threshold (%s calls, %s failed, %s slow in %ss): opening",
            name,
            TRIP_REASONS[reason],
            figures.calls,
            figures.failures,
            figures.slow,
            limits.window_seconds,
        )
        breaker.open(reason)


def _timed(name: str, breaker: _CircuitBreaker, func: Callable[[], T]) -> T:
    """A call while closed: through pybreaker (the consecutive failures), timed around `func` alone and
    counted in the window."""
    elapsed = [0.0]

    def timed() -> T:
        started = time.monotonic()
        try:
            return func()
        finally:
            elapsed[0] = time.monotonic() - started

    try:
        result = breaker.call(timed)
    except pybreaker.CircuitBreakerError as exc:
        if exc.__context__ is not None:  # the call ran, failed and tripped the breaker
            _count(name, breaker, elapsed[0], exc)
        raise  # otherwise another process opened it meanwhile: nothing was called
    except BaseException as exc:
        _count(name, breaker, elapsed[0], exc)
        raise
    _count(name, breaker, elapsed[0], None)
    return result


def call(func: Callable[[], T], name: str = NAME) -> T:
    """Run `func` through breaker `name`. Raises CircuitBreakerError at once while it is open (its message
    says which condition opened it)."""
    breaker = _breaker(name)
    snapshot = storage(name).snapshot()
    if _trial_due(snapshot):
        return _trial(name, breaker, func)
    if snapshot.state == pybreaker.STATE_CLOSED:
        return _timed(name, breaker, func)
    try:
        return breaker.call(func)
    except pybreaker.CircuitBreakerError as exc:
        reason = TRIP_REASONS.get(snapshot.trip_reason)
        if exc.__context__ is not None or not reason:
            raise
        raise pybreaker.CircuitBreakerError(f"{name} breaker open ({reason}): {exc}") from None


def original_error(exc: pybreaker.CircuitBreakerError) -> LLMError | None:
    """The LLMError behind the call that tripped the breaker, if this error came from that call."""
    context = exc.__context__
    return context if isinstance(context, LLMError) else None


def _window_status(store: SharedStorage, limits: Rules) -> dict[str, Any]:
    figures = store.window_figures(clock(), limits.window_seconds)
    return {
        "seconds": limits.window_seconds,
        "calls": figures.calls,
        "failures": figures.failures,
        "slow_calls": figures.slow,
        "failure_rate": figures.rate(figures.failures),
        "slow_call_rate": figures.rate(figures.slow),
        "min_calls": limits.min_calls,
        "failure_rate_threshold": limits.failure_rate,
        "slow_call_rate_threshold": limits.slow_call_rate,
        "slow_call_seconds": limits.slow_call_seconds,
    }


def status(name: str = NAME) -> dict[str, Any]:
    """State for the API, the dashboard and the metrics (two reads: the state, the window): state, failures,
    which condition opened it, opened at, next trial at, the window's figures and thresholds, storage."""
    store = storage(name)
    limits = rules(name)
    snapshot = store.snapshot()
    opened = None
    if snapshot.opened_at and snapshot.state != pybreaker.STATE_CLOSED:
        opened = datetime.fromtimestamp(snapshot.opened_at, tz=UTC)
    next_trial = None
    if opened and snapshot.state == pybreaker.STATE_OPEN:
        next_trial = opened + timedelta(seconds=limits.reset_seconds)
    return {
        "state": snapshot.state,
        "fail_counter": snapshot.fail_counter,
        "fail_max": limits.fail_max,
        "reset_timeout_seconds": limits.reset_seconds,
        "trip_reason": snapshot.trip_reason or None if snapshot.state != pybreaker.STATE_CLOSED else None,
        "opened_at": opened,
        "next_trial_at": next_trial,
        "window": _window_status(store, limits),
        "storage": store.description,
    }


def install_storage(store: SharedStorage | None, name: str = NAME) -> None:
    """Use this storage for breaker `name` in this process from now on (tests: memory before each test, a
    shared one where processes share it); None: the configured one, built on next use."""
    with _process_lock:
        if _process.get("pid") != os.getpid():
            _process.update(pid=os.getpid(), storages={})
        _process["storages"][name] = store
    _threads.breakers = None
