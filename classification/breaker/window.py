"""The breaker's sliding window: its calls of the last N seconds, how many failed and how many were slow.

resilience4j's time-based window is the model: the calls are counted in whole seconds, the window is the
last `seconds` of them (the current one included), and the rates are evaluated only once it holds a
minimum number of calls. Every backend keeps the same buckets, so the figures are the same whichever
process reads them:

- Redis: one sorted set per figure (calls, failures, slow), a member per call scored by its second, trimmed
  and counted in the same pipelined round trip that adds the call; idle sets expire.
- the database: one `BreakerCalls` row per breaker and second, counted up by one upsert per call; rows
  behind the window are deleted every few seconds.
- memory: the same buckets in this process (unit tests, and while the shared backend is unreachable).
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.db import connection, transaction

from classification.models import BreakerCalls

# The database window deletes the buckets behind it at most this often per process.
_PRUNE_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Sample:
    """One call through the breaker: when it ended (seconds since the epoch), whether it failed, whether it
    took longer than the slow-call duration."""

    at: float
    failed: bool
    slow: bool


@dataclass(frozen=True)
class Figures:
    """The window's calls, failed calls and slow calls."""

    calls: int = 0
    failures: int = 0
    slow: int = 0

    def rate(self, count: int) -> float | None:
        """`count` as a percentage of the calls (None without calls)."""
        return round(100 * count / self.calls, 1) if self.calls else None


class Window(Protocol):
    def record(self, sample: Sample, seconds: int, *, figures: bool) -> Figures | None:
        """Count the call; with `figures`, return the window's figures after it (in the same round trip
        where the backend allows)."""
        ...

    def figures(self, now: float, seconds: int) -> Figures: ...
    def clear(self) -> None: ...


def _first_second(now: float, seconds: int) -> int:
    """The oldest second still in the window (the current one is its last)."""
    return int(now) - seconds + 1


def savepoint() -> AbstractContextManager[Any]:
    # Inside a caller's transaction a failed statement must not break it (PostgreSQL aborts the whole
    # transaction): a savepoint confines the failure. Outside one, each statement commits on its own,
    # and a read takes no write lock (SQLite's transactions here are IMMEDIATE).
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


class LocalWindow:
    def __init__(self) -> None:
        self._buckets: dict[int, list[int]] = {}  # second -> [calls, failures, slow]
        self._lock = threading.Lock()

    def record(self, sample: Sample, seconds: int, *, figures: bool) -> Figures | None:
        with self._lock:
            first = _first_second(sample.at, seconds)
            for second in [s for s in self._buckets if s < first]:
                del self._buckets[second]
            bucket = self._buckets.setdefault(int(sample.at), [0, 0, 0])
            bucket[0] += 1
            bucket[1] += sample.failed
            bucket[2] += sample.slow
        return self.figures(sample.at, seconds) if figures else None

    def figures(self, now: float, seconds: int) -> Figures:
        first, last = _first_second(now, seconds), int(now)
        with self._lock:
            counts = [bucket for second, bucket in self._buckets.items() if first <= second <= last]
        return Figures(*(sum(column) for column in zip(*counts, strict=True))) if counts else Figures()

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


_FIGURES = ("calls", "failures", "slow")


class RedisWindow:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._redis = client
        self._keys = [f"{namespace}:window:{name}" for name in _FIGURES]

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def record(self, sample: Sample, seconds: int, *, figures: bool) -> Figures:
        # Counting costs nothing more in the same round trip, so the figures come back whatever `figures` says.
        member = f"{sample.at:.6f}:{uuid.uuid4().hex[:12]}"
        second = int(sample.at)
        first = _first_second(sample.at, seconds)
        pipe = self._redis.pipeline(transaction=False)  # one round trip; the counts need no MULTI
        counts_at = []
        for key, counted in zip(self._keys, (True, sample.failed, sample.slow), strict=True):
            if counted:
                pipe.zadd(key, {member: second})
                pipe.expire(key, seconds + 5)  # an idle window disappears
            pipe.zremrangebyscore(key, "-inf", first - 1)
            pipe.zcount(key, first, second)
            counts_at.append(len(pipe) - 1)
        results = pipe.execute()
        return Figures(*(int(results[index]) for index in counts_at))

    def figures(self, now: float, seconds: int) -> Figures:
        pipe = self._redis.pipeline(transaction=False)
        for key in self._keys:
            pipe.zcount(key, _first_second(now, seconds), int(now))
        return Figures(*pipe.execute())

    def clear(self) -> None:
        self._redis.delete(*self._keys)


def _table() -> str:
    return connection.ops.quote_name(BreakerCalls._meta.db_table)


class DatabaseWindow:
    def __init__(self, breaker_name: str) -> None:
        self._name = breaker_name
        self._next_prune = 0.0

    def record(self, sample: Sample, seconds: int, *, figures: bool) -> Figures | None:
        table = _table()
        # One statement, atomic in both SQLite (3.24+) and PostgreSQL: no count is lost between processes.
        upsert = (
            f"INSERT INTO {table} (breaker, second, calls, failures, slow) VALUES (%s, %s, 1, %s, %s) "
            f"ON CONFLICT (breaker, second) DO UPDATE SET calls = {table}.calls + 1, "
            f"failures = {table}.failures + excluded.failures, slow = {table}.slow + excluded.slow"
        )
        with savepoint(), connection.cursor() as cursor:
            cursor.execute(upsert, [self._name, int(sample.at), int(sample.failed), int(sample.slow)])
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + _PRUNE_EVERY_SECONDS
                cursor.execute(
                    f"DELETE FROM {table} WHERE breaker = %s AND second < %s",
                    [self._name, _first_second(sample.at, seconds)],
                )
        return self.figures(sample.at, seconds) if figures else None

    def figures(self, now: float, seconds: int) -> Figures:
        sql = (
            f"SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(failures), 0), COALESCE(SUM(slow), 0) FROM {_table()} "
            "WHERE breaker = %s AND second >= %s AND second <= %s"
        )
        with savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, [self._name, _first_second(now, seconds), int(now)])
            calls, failures, slow = cursor.fetchone()
        return Figures(int(calls), int(failures), int(slow))

    def clear(self) -> None:
        with savepoint():
            BreakerCalls.objects.filter(breaker=self._name).delete()
