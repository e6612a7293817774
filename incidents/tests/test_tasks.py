from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from classification import tasks as classification_tasks
from incidents import services
from incidents.gate import Gate
from incidents.models import SimilarTicket
from incidents.tasks import process_classified_task
from tickets.models import Status
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_classification_publishes_the_similarity_task_for_the_tickets_it_classified(
    default_taxonomy: None, settings: Any
) -> None:
    settings.SIMILARITY_ENABLED = True
    settings.RESOLUTION_ENABLED = False  # the specialists' task, published too otherwise (resolutions' tests)
    ticket = TicketFactory.create()
    with mock.patch.object(classification_tasks.current_app, "send_task", autospec=True) as send:
        classification_tasks.classify_tickets_task.apply(args=([ticket.pk],))

    send.assert_called_once_with("incidents.process_classified", args=([ticket.pk],))


def test_nothing_is_published_with_similarity_off(default_taxonomy: None, settings: Any) -> None:
    settings.SIMILARITY_ENABLED = False
    settings.RESOLUTION_ENABLED = False
    ticket = TicketFactory.create()
    with mock.patch.object(classification_tasks.current_app, "send_task", autospec=True) as send:
        classification_tasks.classify_tickets_task.apply(args=([ticket.pk],))

    send.assert_not_called()


def test_the_task_stores_similar_tickets_once_when_run_twice() -> None:
    first = TicketFactory.create(classified=True, subject="Export to CSV fails", body="The CSV export fails.")
    TicketFactory.create(classified=True, subject="CSV export fails again", body="Export fails.")

    process_classified_task.apply(args=([first.pk],))
    process_classified_task.apply(args=([first.pk],))

    assert SimilarTicket.objects.filter(ticket=first).count() == 1


def test_the_similarity_task_has_a_queue_of_its_own() -> None:
    # The classification drain never waits behind similarity work (docs/SIMILARITY.md).
    route = classification_tasks.current_app.amqp.router.route({}, "incidents.process_classified")

    assert route["queue"].name == "similarity"


def _backlog(count: int) -> None:
    TicketFactory.create_batch(count)  # queued: waiting for classification


@pytest.mark.parametrize(("backlog", "threshold", "expected"), [(3, 2, True), (2, 2, False), (3, 0, False)])
def test_a_backlog_is_more_than_the_threshold_of_tickets_waiting_for_classification(
    settings: Any, backlog: int, threshold: int, expected: bool
) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = threshold  # 0: off
    _backlog(backlog)
    TicketFactory.create_batch(5, classified=True)  # classified tickets are no backlog

    assert services.classification_backlog() is expected


def test_tickets_being_classified_count_as_backlog(settings: Any) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = 1
    TicketFactory.create_batch(2, status=Status.PROCESSING)

    assert services.classification_backlog()


def test_the_backlog_count_stops_at_the_threshold(settings: Any, django_assert_num_queries: Any) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = 2
    _backlog(5)

    with django_assert_num_queries(1) as captured:
        assert services.classification_backlog()
    assert "LIMIT 3" in captured.captured_queries[0]["sql"]


def test_the_gate_closes_on_a_backlog_and_opens_when_it_clears() -> None:
    gate = Gate(max_seconds=60)

    assert [gate.decide(False, 0), gate.decide(True, 1), gate.decide(True, 2), gate.decide(False, 3)] == [
        None,  # open, and stays so
        False,  # a backlog: stop consuming
        None,
        True,  # cleared: consume again
    ]
    assert gate.open


def test_the_gate_stays_closed_no_longer_than_its_limit_then_open_until_the_backlog_clears() -> None:
    gate = Gate(max_seconds=60)

    assert gate.decide(True, 0) is False
    assert gate.decide(True, 59.9) is None
    assert gate.decide(True, 60) is True  # the limit: similarity runs beside the backlog
    assert [gate.decide(True, t) for t in (61, 200, 500)] == [None, None, None]  # not closed again by it
    assert gate.decide(False, 501) is None and gate.decide(True, 502) is False  # a new backlog closes it
