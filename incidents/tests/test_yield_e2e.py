"""Similarity yields to classification, with a real worker on the `similarity` queue: while more tickets wait
for classification than SIMILARITY_YIELD_BACKLOG, a chunk's similar tickets are not worked out; once the backlog
is gone (or the wait reaches SIMILARITY_YIELD_MAX_SECONDS) they are, each chunk once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from conftest import wait_for
from incidents.models import SimilarTicket
from incidents.tasks import process_classified_task
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _pair() -> list[int]:
    first = TicketFactory.create(classified=True, subject="Export to CSV fails", body="The CSV export fails.")
    second = TicketFactory.create(classified=True, subject="CSV export fails again", body="The export fails.")
    return [first.pk, second.pk]


def _with_links(ids: list[int]) -> int:
    return SimilarTicket.objects.filter(ticket__in=ids).values("ticket").distinct().count()


def test_similarity_waits_while_classification_has_a_backlog_then_runs(celery_worker_process):
    ids = _pair()
    backlog = TicketFactory.create_batch(3)  # queued, and no classification worker to take them
    celery_worker_process(
        queues="similarity",
        SIMILARITY_YIELD_BACKLOG="2",
        SIMILARITY_YIELD_STEP_SECONDS="0.5",
        SIMILARITY_YIELD_MAX_SECONDS="300",
    )
    process_classified_task.delay(ids)

    log = Path(settings.DATA_DIR) / "worker-0.log"
    wait_for(lambda: "similarity waits for the classification backlog" in log.read_text(), timeout=60)
    time.sleep(2)  # deferred again every half second meanwhile
    assert _with_links(ids) == 0

    Ticket.objects.filter(pk__in=[t.pk for t in backlog]).update(status=Status.CLASSIFIED)  # the backlog drains
    wait_for(lambda: _with_links(ids) == 2, timeout=60)
    time.sleep(1.5)
    assert log.read_text().count("similarity for 2 tickets") == 1  # the chunk ran once: deferring moved it


def test_similarity_waits_no_longer_than_its_limit(celery_worker_process):
    ids = _pair()
    TicketFactory.create_batch(3)  # a backlog that never drains
    celery_worker_process(
        queues="similarity",
        SIMILARITY_YIELD_BACKLOG="2",
        SIMILARITY_YIELD_STEP_SECONDS="0.5",
        SIMILARITY_YIELD_MAX_SECONDS="3",
    )
    published = time.monotonic()
    process_classified_task.delay(ids)

    wait_for(lambda: _with_links(ids) == 2, timeout=60)
    assert time.monotonic() - published >= 3
