"""Similarity yields to classification, with real workers on the `similarity` queue: while more tickets wait
for classification than SIMILARITY_YIELD_BACKLOG, the worker's gate stops consuming the queue, so a chunk's
similar tickets wait in the broker; they are worked out once the backlog is gone, or once the pause reaches
SIMILARITY_YIELD_MAX_SECONDS; a worker killed while the queue waits loses nothing."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from conftest import wait_for
from incidents.models import SimilarTicket
from incidents.tasks import process_classified_task
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The worker's consumer logs this when it has applied the gate's cancel_consumer (the gate's own "paused" line
# comes a few milliseconds before: a message published in between is still taken).
PAUSED = "Canceling queue similarity"
GATE = {"SIMILARITY_YIELD_BACKLOG": "2", "SIMILARITY_YIELD_STEP_SECONDS": "0.5"}


def _pair() -> list[int]:
    first = TicketFactory.create(classified=True, subject="Export to CSV fails", body="The CSV export fails.")
    second = TicketFactory.create(classified=True, subject="CSV export fails again", body="The export fails.")
    return [first.pk, second.pk]


def _with_links(ids: list[int]) -> int:
    return SimilarTicket.objects.filter(ticket__in=ids).values("ticket").distinct().count()


def _log(worker: int) -> Path:
    return Path(settings.DATA_DIR) / f"worker-{worker}.log"


def _tail(worker: int) -> str:
    return _log(worker).read_text()[-4000:]


def _paused(start: Callable[..., Any], worker: int, **env: str) -> Any:
    process = start(queues="similarity", **GATE, **env)
    try:
        wait_for(lambda: _log(worker).exists() and PAUSED in _log(worker).read_text(), timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"the gate never paused the queue:\n{_tail(worker)}") from exc
    return process


def test_similarity_waits_in_the_broker_while_classification_has_a_backlog(celery_worker_process: Any) -> None:
    ids = _pair()
    backlog = TicketFactory.create_batch(3)  # queued, and no classification worker to take them
    _paused(celery_worker_process, 0, SIMILARITY_YIELD_MAX_SECONDS="300")
    process_classified_task.delay(ids)

    time.sleep(3)
    assert _with_links(ids) == 0, _tail(0)

    Ticket.objects.filter(pk__in=[t.pk for t in backlog]).update(status=Status.CLASSIFIED)  # the backlog drains
    wait_for(lambda: _with_links(ids) == 2, timeout=60)
    time.sleep(1)
    assert _log(0).read_text().count("similarity for 2 tickets") == 1, _tail(0)  # the chunk ran once
    assert "similarity queue consumed again" in _log(0).read_text(), _tail(0)


def test_the_queue_waits_no_longer_than_its_limit(celery_worker_process: Any) -> None:
    ids = _pair()
    TicketFactory.create_batch(3)  # a backlog that never drains
    # A limit well above how late the "paused" line may reach the log on a loaded machine.
    _paused(celery_worker_process, 0, SIMILARITY_YIELD_MAX_SECONDS="15")
    paused = time.monotonic()  # the pause began before this
    process_classified_task.delay(ids)

    time.sleep(2)
    assert _with_links(ids) == 0, _tail(0)  # still within the pause

    wait_for(lambda: _with_links(ids) == 2, timeout=90)
    assert time.monotonic() - paused >= 10  # not before the limit (allowing for the line's delay)


def test_a_worker_killed_while_the_queue_waits_loses_nothing(celery_worker_process: Any) -> None:
    ids = _pair()
    backlog = TicketFactory.create_batch(3)
    first = _paused(celery_worker_process, 0, SIMILARITY_YIELD_MAX_SECONDS="300")
    process_classified_task.delay(ids)
    time.sleep(1)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)
    _paused(celery_worker_process, 1, SIMILARITY_YIELD_MAX_SECONDS="300")
    Ticket.objects.filter(pk__in=[t.pk for t in backlog]).update(status=Status.CLASSIFIED)

    wait_for(lambda: _with_links(ids) == 2, timeout=60)
