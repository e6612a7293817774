"""Logging a dependency's outage without flooding the log: the first failure with its traceback, each
later one as a single line, and one line when the dependency answers again. A 20-second database outage
used to write some 119,000 traceback lines from one worker; now it writes one traceback per process."""

from __future__ import annotations

import logging
import threading
import time


class OutageLog:
    """One per dependency and process, e.g. `database = OutageLog(logger, "database")`."""

    def __init__(self, logger: logging.Logger, dependency: str) -> None:
        self._logger = logger
        self._dependency = dependency
        self._lock = threading.Lock()
        self._failures = 0
        self._since = 0.0

    def failed(self, doing: str, exc: BaseException, *, log_each: bool = True) -> None:
        """Log one failure: `doing` says what could not be done (e.g. "heartbeat"). With `log_each` off
        only the first failure is logged (for callers whose framework already logs a line per attempt)."""
        with self._lock:
            self._failures += 1
            first = self._failures == 1
            if first:
                self._since = time.monotonic()
        if first:
            self._logger.warning("%s unreachable (%s)", self._dependency, doing, exc_info=exc)
        elif log_each:
            self._logger.warning("%s still unreachable (%s): %s", self._dependency, doing, _one_line(exc))

    def ok(self) -> None:
        """The dependency answered: close the outage, if there was one."""
        if not self._failures:  # the common case: no lock, nothing to log
            return
        with self._lock:
            failures, self._failures = self._failures, 0
            lasted = time.monotonic() - self._since
        if failures:
            self._logger.warning("%s is back after %.0fs and %d failed attempts", self._dependency, lasted, failures)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
