"""Worker heartbeats: each Celery worker's main process refreshes its row every few seconds from a
daemon thread, and removes it on a clean shutdown. `/readyz`, `/metrics` and the dashboard count the
workers seen within three intervals, so a killed worker drops out by itself."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import signals
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from supportintel.outages import OutageLog
from workers.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Intervals a worker may miss before it counts as gone.
MISSED_BEATS = 3
# Rows of workers that died without a clean shutdown (containers get new hostnames) are dropped after this.
FORGET_AFTER = timedelta(days=1)


def beat(hostname: str, *, pid: int, started_at: Any) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"pid": pid, "started_at": started_at, "seen_at": timezone.now()}
    )


def forget(hostname: str) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def prune() -> int:
    """Drop the rows of workers not seen for FORGET_AFTER; returns how many."""
    deleted, _ = WorkerHeartbeat.objects.filter(seen_at__lt=timezone.now() - FORGET_AFTER).delete()
    return deleted


def alive() -> list[WorkerHeartbeat]:
    """The workers seen recently, newest first."""
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * MISSED_BEATS)
    return list(WorkerHeartbeat.objects.filter(seen_at__gte=since).order_by("-seen_at"))


class Heart:
    """The thread that beats for one worker. The database connection is opened and closed on each
    beat, so nothing of it is shared with pool processes forked later."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        _quietly(lambda: forget(self.hostname))

    def _run(self) -> None:
        _quietly(prune)  # housekeeping: if the database is down now, the next worker start prunes
        while True:
            _quietly(lambda: beat(self.hostname, pid=os.getpid(), started_at=self.started_at))
            if self._stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
                return


_database = OutageLog(logger, "database")


def _quietly(step: Callable[[], object]) -> None:
    """Run one database step of the heartbeat; a database outage is logged (its traceback once), never
    raised into the worker."""
    try:
        step()
    except DatabaseError as exc:
        _database.failed("heartbeat", exc)
    else:
        _database.ok()
    finally:
        connection.close()


_heart: Heart | None = None


@signals.worker_ready.connect
def _start_beating(sender: Any, **kwargs: Any) -> None:
    global _heart
    _heart = Heart(sender.hostname)
    _heart.start()
    logger.info("heartbeat: %s beating every %ss", sender.hostname, settings.WORKER_HEARTBEAT_SECONDS)


@signals.worker_shutdown.connect
def _stop_beating(sender: Any, **kwargs: Any) -> None:
    global _heart
    if _heart is not None:
        _heart.stop()
        _heart = None
