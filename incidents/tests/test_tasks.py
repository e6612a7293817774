from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from classification import tasks as classification_tasks
from incidents import services
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


@pytest.mark.parametrize(
    ("backlog", "threshold", "waited", "expected"),
    [
        (3, 2, 0.0, True),  # more than the threshold wait
        (2, 2, 0.0, False),  # as many as the threshold do not
        (3, 2, 60.0, False),  # never longer than SIMILARITY_YIELD_MAX_SECONDS
        (3, 0, 0.0, False),  # 0: off
    ],
)
def test_similarity_yields_to_a_classification_backlog_for_a_bounded_time(
    settings: Any, backlog: int, threshold: int, waited: float, expected: bool
) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = threshold
    settings.SIMILARITY_YIELD_MAX_SECONDS = 60.0
    _backlog(backlog)
    TicketFactory.create_batch(5, classified=True)  # classified tickets are no backlog

    assert services.yields_to_classification(1000.0, 1000.0 + waited) is expected


def test_tickets_being_classified_count_as_backlog(settings: Any) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = 1
    TicketFactory.create_batch(2, status=Status.PROCESSING)

    assert services.yields_to_classification(0.0, 0.0)


def test_the_backlog_count_stops_at_the_threshold(settings: Any, django_assert_num_queries: Any) -> None:
    settings.SIMILARITY_YIELD_BACKLOG = 2
    _backlog(5)

    with django_assert_num_queries(1) as captured:
        assert services.yields_to_classification(0.0, 0.0)
    assert "LIMIT 3" in captured.captured_queries[0]["sql"]
