"""Issue 15's end-to-end test: a real Celery worker running the beat schedule, the configured broker and the
test database. People's corrections arrive through the API, the beat task trains a version in the worker,
and the next ticket is answered by it."""

from __future__ import annotations

from typing import Any

import pytest

from classification.models import LearnedModel
from classification.tests.learned_data import labeled
from conftest import wait_for
from tickets.models import Source, Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_corrections_through_the_api_train_a_version_that_answers_the_next_ticket(
    api_client: Any, celery_worker_process: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    rows = labeled(200, seed=21)
    tickets = [TicketFactory.create(subject=s, body=b) for s, b, _ in rows]
    for ticket, (_, _, category) in zip(tickets, rows, strict=True):
        response = api_client.post(f"/api/v1/tickets/{ticket.pk}/correct/", {"category": category}, format="json")
        assert response.status_code == 200, response.content
    assert not LearnedModel.objects.exists()

    celery_worker_process(
        beat=True,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        LEARNED_RETRAIN_AFTER="200",
        LEARNED_MIN_LABELS="100",
        LEARNED_RETRAIN_CHECK_SECONDS="2",
    )
    version = wait_for(lambda: LearnedModel.objects.filter(is_active=True).first(), timeout=120)
    assert version.trigger == "beat" and version.n_labels == 200
    assert version.figures["accuracy"] > version.baseline["accuracy"]

    response = api_client.post(
        "/api/v1/tickets/",
        {"subject": "lumindel brasquet", "body": "The ombrel and cravitz again since monday, yellowfin please."},
        format="json",
    )
    assert response.status_code == 202
    ticket = wait_for(lambda: Ticket.objects.filter(pk=response.data["id"], status=Status.CLASSIFIED).first(), 90)
    assert ticket.classification_source == Source.LEARNED and ticket.category == "feature_request"
    assert ticket.classifications.get().model_name == version.name
