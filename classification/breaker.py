"""The circuit breaker around the LLM (pybreaker), with its state shared by every worker process.

Design decisions, each covered by a test:

- State lives in Redis when REDIS_URL is set (`SharedStorage`, our equivalent of pybreaker's
  CircuitRedisStorage), in memory otherwise. Nothing connects at import or construction: the storage
  talks to Redis on first use.
- While Redis is unreachable, each process keeps the breaker state in its own memory (and logs it),
  so a process still opens its breaker after LLM_BREAKER_FAIL_MAX failures. pybreaker's own Redis
  storage would read "closed" and a zero counter instead and never open. When Redis answers again its
  shared state is used again.
- pybreaker holds one lock for the whole guarded call (its issue #55), which would make concurrent LLM
  calls in one process wait for each other. So every thread gets its own CircuitBreaker object; they all
  share this process's storage, hence the state.
- After the reset timeout only one caller, across all processes, gets the trial call (a token in Redis
  or in memory); the others fall back at once instead of all probing a sick LLM.
- The call that trips the breaker raises CircuitBreakerError; the caller reads the original error from
  its __context__ (`original_error`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from classification.llm import LLMError

logger = logging.getLogger(__name__)

T = TypeVar("T")
NAMESPACE = "supportintel:breaker:llm"
# Redis errors are logged at most this often, so an outage does not flood the log.
_REDIS_ERROR_LOG_INTERVAL = 30.0
# After a Redis error the storage uses local state for this long without trying Redis, so an outage
# costs one failed connection every few seconds, not one per breaker read.
_REDIS_RETRY_AFTER = 5.0


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in Redis, shared by all processes; in this process's memory while Redis is down."""

    def __init__(self, client: redis.Redis | None) -> None:
        super().__init__("redis" if client is not None else "memory")
        self._redis = client
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._local_opened_at: float | None = None
        self._last_error_log = 0.0
        self._skip_redis_until = 0.0
        self.degraded = False

    def _key(self, name: str) -> str:
        return f"{NAMESPACE}:{name}"

    def _shared(self, operation: Callable[[redis.Redis], Any]) -> tuple[bool, Any]:
        if self._redis is None or time.monotonic() < self._skip_redis_until:
            return False, None
        try:
            result = operation(self._redis)
        except redis.RedisError as exc:
            self._skip_redis_until = time.monotonic() + _REDIS_RETRY_AFTER
            if not self.degraded or time.monotonic() - self._last_error_log > _REDIS_ERROR_LOG_INTERVAL:
                logger.warning("breaker: Redis unreachable (%s); using this process's own state", exc)
                self._last_error_log = time.monotonic()
            self.degraded = True
            return False, None
        if self.degraded:
            logger.info("breaker: Redis is back; using the shared state again")
            self.degraded = False
        return True, result

    @property
    def state(self) -> str:
        ok, value = self._shared(lambda r: r.get(self._key("state")))
        if ok:
            return value.decode() if value else pybreaker.STATE_CLOSED
        return self._local.state

    @state.setter
    def state(self, state: str) -> None:
        ok, _ = self._shared(lambda r: r.set(self._key("state"), state))
        if not ok:
            self._local.state = state

    def increment_counter(self) -> None:
        ok, _ = self._shared(lambda r: r.incr(self._key("fail_counter")))
        if not ok:
            self._local.increment_counter()

    def reset_counter(self) -> None:
        ok, _ = self._shared(lambda r: r.set(self._key("fail_counter"), 0))
        if not ok:
            self._local.reset_counter()

    def increment_success_counter(self) -> None:
        ok, _ = self._shared(lambda r: r.incr(self._key("success_counter")))
        if not ok:
            self._local.increment_success_counter()

    def reset_success_counter(self) -> None:
        ok, _ = self._shared(lambda r: r.set(self._key("success_counter"), 0))
        if not ok:
            self._local.reset_success_counter()

    @property
    def counter(self) -> int:
        ok, value = self._shared(lambda r: r.get(self._key("fail_counter")))
        return int(value or 0) if ok else self._local.counter

    @property
    def success_counter(self) -> int:
        ok, value = self._shared(lambda r: r.get(self._key("success_counter")))
        return int(value or 0) if ok else self._local.success_counter

    @property
    def opened_at(self) -> datetime | None:
        ok, value = self._shared(lambda r: r.get(self._key("opened_at")))
        seconds = float(value) if ok and value else (None if ok else self._local_opened_at)
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        seconds = when.timestamp()
        ok, _ = self._shared(lambda r: r.set(self._key("opened_at"), repr(seconds)))
        if not ok:
            self._local_opened_at = seconds

    def take_trial(self, ttl_seconds: float) -> bool:
        """One trial call at a time, across processes: whoever sets the token first gets it."""
        ok, acquired = self._shared(
            lambda r: r.set(self._key("trial"), os.getpid(), nx=True, px=int(ttl_seconds * 1000))
        )
        if ok:
            return bool(acquired)
        return _local_trial.acquire(blocking=False)

    def release_trial(self) -> None:
        ok, _ = self._shared(lambda r: r.delete(self._key("trial")))
        if not ok and _local_trial.locked():
            _local_trial.release()

    def clear(self) -> None:
        """Back to closed with zero counters (tests, and the admin's reset)."""
        self._shared(
            lambda r: r.delete(
                *(self._key(k) for k in ("state", "fail_counter", "success_counter", "opened_at", "trial"))
            )
        )
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._local_opened_at = None


_local_trial = threading.Lock()


class _LoggingListener(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        # Each process logs the change it notices, so one change may be logged once per process.
        logger.warning(
            "LLM breaker %s -> %s (failures: %s)", old_state and old_state.name, new_state.name, cb.fail_counter
        )


def _exclude(exc: BaseException) -> bool:
    # An error that says nothing about the LLM's health (e.g. a 400 for one request) does not count.
    return isinstance(exc, LLMError) and not exc.counts


def redis_client(url: str) -> redis.Redis:
    """A raw client (bytes, no decode_responses) that fails fast: no retries, one-second timeouts."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


_process_lock = threading.Lock()
_process: dict[str, Any] = {}
_threads = threading.local()


def storage() -> SharedStorage:
    """This process's breaker storage, built on first use (never at import: Django and the worker must
    start while Redis is down)."""
    with _process_lock:
        if _process.get("pid") != os.getpid():
            client = None
            if settings.REDIS_URL:
                client = redis_client(settings.REDIS_URL)
            _process.update(pid=os.getpid(), storage=SharedStorage(client))
        return _process["storage"]


def _breaker() -> pybreaker.CircuitBreaker:
    store = storage()
    breaker = getattr(_threads, "breaker", None)
    if breaker is None or breaker._state_storage is not store:
        breaker = pybreaker.CircuitBreaker(
            fail_max=settings.LLM_BREAKER_FAIL_MAX,
            reset_timeout=settings.LLM_BREAKER_RESET_SECONDS,
            exclude=[_exclude],
            listeners=[_LoggingListener()],
            state_storage=store,
            name="llm",
        )
        _threads.breaker = breaker
    breaker.fail_max = settings.LLM_BREAKER_FAIL_MAX
    breaker.reset_timeout = settings.LLM_BREAKER_RESET_SECONDS
    return breaker


def _trial_due(breaker: pybreaker.CircuitBreaker) -> bool:
    state = breaker.current_state
    if state == pybreaker.STATE_HALF_OPEN:
        return True
    if state != pybreaker.STATE_OPEN:
        return False
    opened = storage().opened_at
    return opened is None or time.time() - opened.timestamp() >= breaker.reset_timeout


def call(func: Callable[[], T]) -> T:
    """Run `func` through the breaker. Raises CircuitBreakerError at once while it is open."""
    breaker = _breaker()
    if not _trial_due(breaker):
        return breaker.call(func)
    store = storage()
    if not store.take_trial(settings.LLM_TIMEOUT_SECONDS + 5):
        raise pybreaker.CircuitBreakerError("LLM breaker is half-open and another trial call is in flight")
    try:
        return breaker.call(func)
    finally:
        store.release_trial()


def original_error(exc: pybreaker.CircuitBreakerError) -> LLMError | None:
    """The LLMError behind the call that tripped the breaker, if this error came from that call."""
    context = exc.__context__
    return context if isinstance(context, LLMError) else None


def status() -> dict[str, Any]:
    """State for the API and dashboard: state, failures, opened at, next trial at."""
    breaker = _breaker()
    store = storage()
    state = breaker.current_state
    opened = store.opened_at if state != pybreaker.STATE_CLOSED else None
    next_trial = (
        datetime.fromtimestamp(opened.timestamp() + breaker.reset_timeout, tz=UTC)
        if opened and state == pybreaker.STATE_OPEN
        else None
    )
    return {
        "state": state,
        "fail_counter": store.counter,
        "fail_max": breaker.fail_max,
        "reset_timeout_seconds": breaker.reset_timeout,
        "opened_at": opened,
        "next_trial_at": next_trial,
        "storage": "memory (Redis unreachable)" if store.degraded else store.name,
    }


def install_storage(store: SharedStorage) -> None:
    """Use this storage in this process from now on (tests: memory before each test, Redis where shared)."""
    with _process_lock:
        _process.update(pid=os.getpid(), storage=store)
    _threads.breaker = None
