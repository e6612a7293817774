"""Where the breaker's state lives, shared by every process: Redis (`RedisBackend`) or one row of the
database (`DatabaseBackend`), behind pybreaker's storage interface (`SharedStorage`), which keeps this
process's own state while the backend cannot be reached. The design is in the package's docstring."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import pybreaker
import redis
from django.db import DatabaseError, connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from classification.breaker.window import DatabaseWindow, Figures, LocalWindow, RedisWindow, Sample, Window
from classification.breaker.window import savepoint as _savepoint
from classification.llm import PRIMARY
from classification.models import BreakerCalls, BreakerState

logger = logging.getLogger(__name__)

T = TypeVar("T")
Counter = Literal["fail_counter", "success_counter"]
NAME = PRIMARY


def namespace(name: str) -> str:
    return f"supportintel:breaker:{name}"


NAMESPACE = namespace(NAME)
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
    trip_reason: str = ""  # which condition opened it last


class Backend(Protocol):
    """Where the processes share the state. Each method is one atomic round trip."""

    name: str
    title: str
    errors: tuple[type[Exception], ...]  # what the backend raises when it cannot be reached

    @property
    def window(self) -> Window: ...

    def snapshot(self) -> Snapshot: ...
    def set_state(self, state: str) -> None: ...
    def set_trip_reason(self, reason: str) -> None: ...
    def increment(self, counter: Counter) -> None: ...
    def reset(self, counter: Counter) -> None: ...
    def set_opened_at(self, seconds: float) -> None: ...
    def take_trial(self, token: str, ttl_seconds: float) -> bool: ...
    def release_trial(self, token: str) -> None: ...
    def clear(self) -> None: ...


# Deletes the trial token only if it is still ours: one that expired may belong to another caller now.
_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


class RedisBackend:
    name = "redis"
    title = "Redis"
    errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def __init__(self, client: redis.Redis, namespace: str = NAMESPACE) -> None:
        self._redis = client
        self._namespace = namespace
        self.window = RedisWindow(client, namespace)

    def _key(self, name: str) -> str:
        return f"{self._namespace}:{name}"

    def snapshot(self) -> Snapshot:
        fields = ("state", "fail_counter", "success_counter", "opened_at", "trip_reason")
        state, fails, successes, opened, reason = self._redis.mget([self._key(f) for f in fields])
        return Snapshot(
            _text(state) or pybreaker.STATE_CLOSED,
            int(fails or 0),
            int(successes or 0),
            float(opened) if opened else None,
            _text(reason),
        )

    def set_state(self, state: str) -> None:
        self._redis.set(self._key("state"), state)

    def set_trip_reason(self, reason: str) -> None:
        self._redis.set(self._key("trip_reason"), reason)

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
        keys = ("state", "fail_counter", "success_counter", "opened_at", "trip_reason", "trial")
        self._redis.delete(*(self._key(k) for k in keys), *self.window.keys)


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
        self.window = DatabaseWindow(breaker_name)

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
        sql = f"SELECT state, fail_counter, success_counter, opened_at, trip_reason FROM {table} WHERE name = %s"
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, [self._name])
            row = cursor.fetchone()
        if row is None:
            return Snapshot()
        state, fails, successes, opened, reason = row
        return Snapshot(state, fails, successes, _timestamp(opened), reason)

    def set_state(self, state: str) -> None:
        self._update(self._rows(), state=state)

    def set_trip_reason(self, reason: str) -> None:
        self._update(self._rows(), trip_reason=reason)

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
            BreakerCalls.objects.filter(breaker=self._name).delete()


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's storage over a shared backend; this process's memory while the backend is
    unreachable, or when there is none (unit tests)."""

    def __init__(self, backend: Backend | None) -> None:
        super().__init__(backend.name if backend is not None else "memory")
        self._backend = backend
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._local_opened_at: float | None = None
        self._local_trip_reason = ""
        self._local_window = LocalWindow()
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
        opened, reason = self._local_opened_at, self._local_trip_reason
        return Snapshot(local.state, local.counter, local.success_counter, opened, reason)

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

    @property
    def trip_reason(self) -> str:
        return self.snapshot().trip_reason

    @trip_reason.setter
    def trip_reason(self, reason: str) -> None:
        self._either(lambda b: b.set_trip_reason(reason), lambda: setattr(self, "_local_trip_reason", reason))

    def record_call(self, sample: Sample, seconds: int, *, figures: bool) -> Figures | None:
        """Count a call in the sliding window (one write); with `figures`, the window's figures after it."""
        return self._either(
            lambda b: b.window.record(sample, seconds, figures=figures),
            lambda: self._local_window.record(sample, seconds, figures=figures),
        )

    def window_figures(self, now: float, seconds: int) -> Figures:
        return self._either(lambda b: b.window.figures(now, seconds), lambda: self._local_window.figures(now, seconds))

    def clear_window(self) -> None:
        self._either(lambda b: b.window.clear(), lambda: None)
        self._local_window.clear()

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
        self._local_trip_reason = ""
        self._local_window.clear()
