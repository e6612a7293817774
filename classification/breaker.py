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
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import pybreaker
import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from classification.llm import LLMError
from classification.models import BreakerState

logger = logging.getLogger(__name__)

T = TypeVar("T")
Counter = Literal["fail_counter", "success_counter"]
NAME = "llm"
NAMESPACE = f"supportintel:breaker:{NAME}"
# After a backend error the storage uses local state for this long without trying the backend, so an
# outage costs one failed attempt every few seconds, not one per breaker read.
_RETRY_AFTER = 5.0
_LOCAL_TRIAL = "local"


@dataclass(frozen=True)
class Snapshot:
    """The breaker's state as one read returns it."""

    state: str = pybreaker.STATE_CLOSED
    fail_counter: int = 0
    success_counter: int = 0
    opened_at: float | None = None  # seconds since the epoch


class Backend(Protocol):
    """Where the processes share the state. Each method is one atomic round trip."""

    name: str
    title: str
    errors: tuple[type[Exception], ...]  # what the backend raises when it cannot be reached

    def snapshot(self) -> Snapshot: ...
    def set_state(self, state: str) -> None: ...
    def increment(self, counter: Counter) -> None: ...
    def reset(self, counter: Counter) -> None: ...
    def set_opened_at(self, seconds: float) -> None: ...
    def take_trial(self, token: str, ttl_seconds: float) -> bool: ...
    def release_trial(self, token: str) -> None: ...
    def clear(self) -> None: ...


# Deletes the trial token only if it is still ours: one that expired may belong to another caller now.
_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisBackend:
    name = "redis"
    title = "Redis"
    errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def __init__(self, client: redis.Redis, namespace: str = NAMESPACE) -> None:
        self._redis = client
        self._namespace = namespace

    def _key(self, name: str) -> str:
        return f"{self._namespace}:{name}"

    def snapshot(self) -> Snapshot:
        fields = ("state", "fail_counter", "success_counter", "opened_at")
        state, fails, successes, opened = self._redis.mget([self._key(f) for f in fields])
        if isinstance(state, bytes):
            state = state.decode()
        return Snapshot(
            state or pybreaker.STATE_CLOSED,
            int(fails or 0),
            int(successes or 0),
            float(opened) if opened else None,
        )

    def set_state(self, state: str) -> None:
        self._redis.set(self._key("state"), state)

    def increment(self, counter: Counter) -> None:
        self._redis.incr(self._key(counter))

    def reset(self, counter: Counter) -> None:
        self._redis.set(self._key(counter), 0)

    def set_opened_at(self, seconds: float) -> None:
        self._redis.set(self._key("opened_at"), repr(seconds))

    def take_trial(self, token: str, ttl_seconds: float) -> bool:
        return bool(self._redis.set(self._key("trial"), token, nx=True, px=int(ttl_seconds * 1000)))

    def release_trial(self, token: str) -> None:
        self._redis.eval(_RELEASE_SCRIPT, 1, self._key("trial"), token)

    def clear(self) -> None:
        keys = ("state", "fail_counter", "success_counter", "opened_at", "trial")
        self._redis.delete(*(self._key(k) for k in keys))


def _savepoint() -> AbstractContextManager[Any]:
    # Inside a caller's transaction a failed statement must not break it (PostgreSQL aborts the whole
    # transaction): a savepoint confines the failure. Outside one, each statement commits on its own,
    # and a read takes no write lock (SQLite's transactions here are IMMEDIATE).
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _timestamp(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns the stored text to plain SQL: UTC, without a zone
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class DatabaseBackend:
    """One BreakerState row, changed only by single UPDATE statements, so concurrent writers are
    serialized by the database (SQLite's write lock, PostgreSQL's row lock) and no count is lost."""

    name = "database"
    title = "database"
    errors: tuple[type[Exception], ...] = (DatabaseError,)

    def __init__(self, breaker_name: str = NAME) -> None:
        self._name = breaker_name

    def _rows(self) -> QuerySet[BreakerState]:
        return BreakerState.objects.filter(name=self._name)

    def _update(self, rows: QuerySet[BreakerState], **values: Any) -> int:
        with _savepoint():
            changed = rows.update(**values, updated=timezone.now())
            if changed:
                return changed
            # Perhaps no row yet (a fresh or flushed database): make sure it exists, then try once more.
            BreakerState.objects.get_or_create(name=self._name)
            return rows.update(**values, updated=timezone.now())

    def snapshot(self) -> Snapshot:
        # Plain SQL: compiling the ORM query costs some 30 times the query itself, and this read runs
        # for every classification and every page header.
        table = connection.ops.quote_name(BreakerState._meta.db_table)
        sql = f"SELECT state, fail_counter, success_counter, opened_at FROM {table} WHERE name = %s"
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, [self._name])
            row = cursor.fetchone()
        if row is None:
            return Snapshot()
        state, fails, successes, opened = row
        return Snapshot(state, fails, successes, _timestamp(opened))

    def set_state(self, state: str) -> None:
        self._update(self._rows(), state=state)

    def increment(self, counter: Counter) -> None:
        self._update(self._rows(), **{counter: F(counter) + 1})

    def reset(self, counter: Counter) -> None:
        self._update(self._rows(), **{counter: 0})

    def set_opened_at(self, seconds: float) -> None:
        self._update(self._rows(), opened_at=datetime.fromtimestamp(seconds, tz=UTC))

    def take_trial(self, token: str, ttl_seconds: float) -> bool:
        now = timezone.now()
        free = self._rows().filter(Q(trial_token="") | Q(trial_expires__lt=now))
        return self._update(free, trial_token=token, trial_expires=now + timedelta(seconds=ttl_seconds)) == 1

    def release_trial(self, token: str) -> None:
        with _savepoint():
            self._rows().filter(trial_token=token).update(trial_token="", trial_expires=None)

    def clear(self) -> None:
        with _savepoint():
            self._rows().delete()


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's storage over a shared backend; this process's memory while the backend is
    unreachable, or when there is none (unit tests)."""

    def __init__(self, backend: Backend | None) -> None:
        super().__init__(backend.name if backend is not None else "memory")
        self._backend = backend
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._local_opened_at: float | None = None
        self._local_trial = threading.Lock()
        self._held = threading.local()  # this thread's trial token
        self._skip_backend_until = 0.0
        self.degraded = False

    def _either(self, shared: Callable[[Backend], T], local: Callable[[], T]) -> T:
        backend = self._backend
        if backend is None or time.monotonic() < self._skip_backend_until:
            return local()
        try:
            result = shared(backend)
        except backend.errors as exc:
            self._skip_backend_until = time.monotonic() + _RETRY_AFTER
            if not self.degraded:
                self.degraded = True
                logger.warning("breaker: %s unreachable (%s); this process uses its own state", backend.title, exc)
            return local()
        if self.degraded:
            self.degraded = False
            logger.info("breaker: %s answers again; using the shared state", backend.title)
        return result

    @property
    def description(self) -> str:
        if self.degraded and self._backend is not None:
            return f"memory ({self._backend.title} unreachable)"
        return self.name

    def _local_snapshot(self) -> Snapshot:
        local = self._local
        return Snapshot(local.state, local.counter, local.success_counter, self._local_opened_at)

    def snapshot(self) -> Snapshot:
        return self._either(lambda b: b.snapshot(), self._local_snapshot)

    @property
    def state(self) -> str:
        return self.snapshot().state

    @state.setter
    def state(self, state: str) -> None:
        self._either(lambda b: b.set_state(state), lambda: setattr(self._local, "state", state))

    def increment_counter(self) -> None:
        self._either(lambda b: b.increment("fail_counter"), self._local.increment_counter)

    def reset_counter(self) -> None:
        # Read first: pybreaker resets after every success, and a write per classification would queue
        # every process behind SQLite's single write lock for nothing.
        if self.counter:
            self._either(lambda b: b.reset("fail_counter"), self._local.reset_counter)

    def increment_success_counter(self) -> None:
        self._either(lambda b: b.increment("success_counter"), self._local.increment_success_counter)

    def reset_success_counter(self) -> None:
        if self.success_counter:
            self._either(lambda b: b.reset("success_counter"), self._local.reset_success_counter)

    @property
    def counter(self) -> int:
        return self.snapshot().fail_counter

    @property
    def success_counter(self) -> int:
        return self.snapshot().success_counter

    @property
    def opened_at(self) -> datetime | None:
        seconds = self.snapshot().opened_at
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        seconds = when.timestamp()
        self._either(lambda b: b.set_opened_at(seconds), lambda: setattr(self, "_local_opened_at", seconds))

    def _take_local_trial(self) -> str:
        return _LOCAL_TRIAL if self._local_trial.acquire(blocking=False) else ""

    def take_trial(self, ttl_seconds: float) -> bool:
        """One trial call at a time, across processes: whoever takes the token first gets it. A holder
        that dies without releasing it loses it after `ttl_seconds`."""
        token = f"{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:12]}"
        taken = self._either(lambda b: token if b.take_trial(token, ttl_seconds) else "", self._take_local_trial)
        self._held.token = taken
        return bool(taken)

    def release_trial(self) -> None:
        token = getattr(self._held, "token", "")
        self._held.token = ""
        if token == _LOCAL_TRIAL:
            self._local_trial.release()
        elif token:
            self._either(lambda b: b.release_trial(token), lambda: None)

    def clear(self) -> None:
        """Back to closed with zero counters (tests, and the admin's reset)."""
        self._either(lambda b: b.clear(), lambda: None)
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._local_opened_at = None


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


def configured_backend() -> Backend:
    """The backend LLM_BREAKER_STORAGE names: Redis (the default with REDIS_URL) or the database."""
    if settings.LLM_BREAKER_STORAGE == "redis":
        return RedisBackend(redis_client(settings.REDIS_URL))
    return DatabaseBackend()


_process_lock = threading.Lock()
_process: dict[str, Any] = {}
_threads = threading.local()


def storage() -> SharedStorage:
    """This process's breaker storage, built on first use (never at import: Django and the worker must
    start while Redis or the database is down)."""
    with _process_lock:
        if _process.get("pid") != os.getpid() or _process.get("storage") is None:
            _process.update(pid=os.getpid(), storage=SharedStorage(configured_backend()))
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
            name=NAME,
        )
        _threads.breaker = breaker
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


def trial_due() -> bool:
    """True when the next call through the breaker would be its trial call: open past the reset time
    (or half-open)."""
    return _trial_due(storage().snapshot())


def lets_calls_through() -> bool:
    """True when a call through the breaker would reach the LLM: closed, or its trial is due (one read)."""
    snapshot = storage().snapshot()
    return snapshot.state == pybreaker.STATE_CLOSED or _trial_due(snapshot)


def call(func: Callable[[], T]) -> T:
    """Run `func` through the breaker. Raises CircuitBreakerError at once while it is open."""
    breaker = _breaker()
    if not trial_due():
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
    """State for the API, the dashboard and the metrics (one read): state, failures, opened at, next
    trial at, storage."""
    store = storage()
    snapshot = store.snapshot()
    reset_seconds = settings.LLM_BREAKER_RESET_SECONDS
    opened = None
    if snapshot.opened_at and snapshot.state != pybreaker.STATE_CLOSED:
        opened = datetime.fromtimestamp(snapshot.opened_at, tz=UTC)
    next_trial = None
    if opened and snapshot.state == pybreaker.STATE_OPEN:
        next_trial = opened + timedelta(seconds=reset_seconds)
    return {
        "state": snapshot.state,
        "fail_counter": snapshot.fail_counter,
        "fail_max": settings.LLM_BREAKER_FAIL_MAX,
        "reset_timeout_seconds": reset_seconds,
        "opened_at": opened,
        "next_trial_at": next_trial,
        "storage": store.description,
    }


def install_storage(store: SharedStorage | None) -> None:
    """Use this storage in this process from now on (tests: memory before each test, a shared one where
    processes share it); None: the configured one, built on next use."""
    with _process_lock:
        _process.update(pid=os.getpid(), storage=store)
    _threads.breaker = None
