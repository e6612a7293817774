"""Similarity yields to classification. Each worker that consumes the `similarity` queue runs a gatekeeper: a
thread of its main process that looks every SIMILARITY_YIELD_STEP_SECONDS at how many tickets wait to be
classified, and while more than SIMILARITY_YIELD_BACKLOG do (a burst, an import) tells its own worker to stop
consuming the queue (Celery's `cancel_consumer` control command, run by the worker's consumer in its own
thread), and to consume it again once the backlog is gone. So the messages wait in the broker, where a worker
that dies loses none of them, and a waiting chunk costs nothing. A pause lasts at most
SIMILARITY_YIELD_MAX_SECONDS; then the queue is consumed until the backlog clears, so similarity is delayed,
never starved. Pages find similar tickets on demand meanwhile (incidents.services.similar_tickets)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import signals
from django.conf import settings
from django.db import DatabaseError, connection

from incidents import services
from supportintel.outages import OutageLog

logger = logging.getLogger(__name__)

QUEUE = "similarity"
# The gatekeeper says again what it wants this often, in case a control message was lost on its way.
RESEND_SECONDS = 10.0


@dataclass
class Gate:
    """When to stop and start consuming, from whether there is a backlog now: a pure state machine."""

    max_seconds: float
    paused_since: float | None = None
    # The pause reached its limit during this backlog: consume until the backlog clears.
    overridden: bool = False

    @property
    def open(self) -> bool:
        return self.paused_since is None

    def decide(self, backlog: bool, now: float) -> bool | None:
        """True: consume again; False: stop consuming; None: no change."""
        if not backlog:
            self.overridden = False
            if self.paused_since is None:
                return None
            self.paused_since = None
            return True
        if self.paused_since is None:
            if self.overridden:
                return None
            self.paused_since = now
            return False
        if now - self.paused_since >= self.max_seconds:
            self.paused_since, self.overridden = None, True
            return True
        return None


_database = OutageLog(logger, "database")


def _backlog() -> bool:
    """Whether classification has a backlog now; False when the database cannot say (similarity then runs)."""
    try:
        return services.classification_backlog()
    except DatabaseError as exc:
        _database.failed("similarity gate", exc)
        return False
    finally:
        connection.close()  # nothing of it shared with pool processes forked later


class Gatekeeper:
    """The thread that opens and closes the similarity queue for one worker."""

    def __init__(self, app: Any, hostname: str) -> None:
        self.app, self.hostname = app, hostname
        self.gate = Gate(settings.SIMILARITY_YIELD_MAX_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="similarity-gate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _send(self, consume: bool) -> None:
        command = self.app.control.add_consumer if consume else self.app.control.cancel_consumer
        try:
            command(QUEUE, destination=[self.hostname], reply=False)
        except Exception as exc:  # the broker is away: said again within RESEND_SECONDS
            logger.warning("similarity gate: %s not sent: %s", "open" if consume else "close", exc)

    def _run(self) -> None:
        sent = time.monotonic()
        while True:  # the first look at once: a worker starting during a burst closes its queue without delay
            now = time.monotonic()
            change = self.gate.decide(_backlog(), now)
            if change is not None:
                logger.info(
                    "similarity queue %s",
                    "consumed again" if change else "paused: classification has a backlog",
                )
            if change is not None or now - sent >= RESEND_SECONDS:
                self._send(self.gate.open)
                sent = now
            if self._stop.wait(settings.SIMILARITY_YIELD_STEP_SECONDS):
                return


_keeper: Gatekeeper | None = None


def _consumes_similarity(consumer: Any) -> bool:
    consume_from = consumer.app.amqp.queues.consume_from
    return consume_from is None or QUEUE in consume_from


@signals.worker_ready.connect
def _start(sender: Any, **kwargs: Any) -> None:
    global _keeper
    if settings.SIMILARITY_ENABLED and settings.SIMILARITY_YIELD_BACKLOG > 0 and _consumes_similarity(sender):
        _keeper = Gatekeeper(sender.app, sender.hostname)
        _keeper.start()
        logger.info(
            "similarity gate: the queue waits while more than %d tickets wait for classification",
            settings.SIMILARITY_YIELD_BACKLOG,
        )


@signals.worker_shutdown.connect
def _stop(sender: Any, **kwargs: Any) -> None:
    global _keeper
    if _keeper is not None:
        _keeper.stop()
        _keeper = None
