"""Talking to the broker without ever holding a request, a sweep or a probe hostage.

A frozen broker (Redis stopped with SIGSTOP, a hung network path) accepts TCP connections and never
answers. kombu and redis-py then retry in three layers of their own, and one publish waits 20 s or
more whatever the socket timeouts say. So every broker operation runs on this process's broker
threads and the caller waits at most `BROKER_CALL_TIMEOUT_SECONDS` for it. An operation that fails or
does not finish in time is reported as failed (the caller keeps its tickets `queued` and flags them
for the sweep); the thread left waiting on the broker finishes or fails on its own, harmlessly.

While the broker is failing, callers do not wait at all for `BROKER_RETRY_AFTER_SECONDS`: an outage
costs one slow call per interval, not one per request. And at most `_THREADS` operations wait on the
broker at once: a caller finding them all busy waits for one within its own deadline (a worker's pool
threads publishing together queue up), and fails when none frees up in time (all stuck on a frozen broker).
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Broker calls that may be in flight at once in one process (a frozen broker holds each for ~20 s).
_THREADS = 4


class BrokerUnavailable(Exception):
    """The broker did not take the call in time (down, frozen, or failing recently)."""


class _State:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.executor = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="broker")
        self.slots = threading.BoundedSemaphore(_THREADS)
        self.failing_until = 0.0
        self.lock = threading.Lock()


_state_lock = threading.Lock()
_state: _State | None = None


def _current() -> _State:
    # Per process: a forked gunicorn or Celery child must not inherit its parent's threads.
    global _state
    with _state_lock:
        if _state is None or _state.pid != os.getpid():
            _state = _State()
        return _state


def _mark_failing(state: _State, why: str) -> None:
    with state.lock:
        first = time.monotonic() >= state.failing_until
        state.failing_until = time.monotonic() + settings.BROKER_RETRY_AFTER_SECONDS
    if first:  # one line per outage interval, not one per ticket
        logger.warning("broker unavailable (%s); not waiting on it for %ss", why, settings.BROKER_RETRY_AFTER_SECONDS)


def call(operation: Callable[[], T], *, what: str, timeout: float | None = None) -> T:
    """Run one broker operation with a deadline (`timeout`, by default BROKER_CALL_TIMEOUT_SECONDS).
    Raises BrokerUnavailable if it fails, if it does not finish in time, or (without trying) while the
    broker is known to fail."""
    timeout = timeout or settings.BROKER_CALL_TIMEOUT_SECONDS
    state = _current()
    with state.lock:
        if time.monotonic() < state.failing_until:
            raise BrokerUnavailable(f"{what}: the broker failed recently")
    started = time.monotonic()
    if not state.slots.acquire(timeout=timeout):
        raise BrokerUnavailable(f"{what}: every broker thread stayed busy for {timeout}s")
    # The caller's log context (its request id) goes with the call: Celery reads it to put the request id
    # in the message's headers.
    future = state.executor.submit(contextvars.copy_context().run, operation)
    future.add_done_callback(lambda _: state.slots.release())
    try:
        return future.result(timeout=max(timeout - (time.monotonic() - started), 0.0))
    except FutureTimeout:
        _mark_failing(state, f"{what} took over {timeout}s")
        raise BrokerUnavailable(f"{what}: no answer within {timeout}s") from None
    except Exception as exc:
        # Whatever the broker library raises (kombu's OperationalError, a redis-py error, an OSError …),
        # the caller only needs to know the call did not happen; the cause is logged once per outage.
        _mark_failing(state, f"{what}: {type(exc).__name__}: {exc}")
        raise BrokerUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


# A key the sweep keeps in the broker's Redis. Redis never evicts it (Celery's Redis must run with
# `noeviction`), so when it is missing, Redis lost what it held: restarted without persistence, flushed
# or failed over, and the classification messages it held went with it.
_MARKER_KEY = "supportintel:broker-marker"


def _set_marker() -> bool:
    from supportintel.celery_app import app

    with app.connection_for_write() as conn:
        client = conn.default_channel.client  # type: ignore[attr-defined]  # kombu's Redis channel has it
        return bool(client.set(_MARKER_KEY, "1", nx=True))


def broker_lost_messages() -> bool:
    """True when the broker has lost its messages since the last call (and on the very first call).
    Only Redis can: the filesystem broker keeps its messages on disk."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return False
    return call(_set_marker, what="broker marker check")


def reset() -> None:
    """Forget a recent failure (tests, and a probe that just saw the broker answer)."""
    state = _current()
    with state.lock:
        state.failing_until = 0.0
