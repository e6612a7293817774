from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from classification import tasks as classification_tasks
from incidents.models import SimilarTicket
from incidents.tasks import process_classified_task
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
