"""A real Celery worker process, the configured broker (filesystem or Redis) and the test database."""

from __future__ import annotations

import pytest

from conftest import wait_for
from tickets.models import Status, Ticket
from workers.models import WorkerHeartbeat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_ticket_posted_through_the_api_is_classified_by_a_real_worker(api_client, celery_worker_process):
    celery_worker_process()
    response = api_client.post(
        "/api/v1/tickets/",
        {"subject": "Locked out of my account", "body": "I forgot my password and the reset email never came."},
        format="json",
    )
    assert response.status_code == 202 and response.data["status"] == "queued"
    ticket_id = response.data["id"]

    ticket = wait_for(lambda: Ticket.objects.filter(pk=ticket_id, status=Status.CLASSIFIED).first(), timeout=90)
    assert ticket.category == "account"
    assert ticket.classifications.get().source == "keyword"
    detail = api_client.get(response.data["status_url"])
    assert detail.data["status"] == "classified" and len(detail.data["classifications"]) == 1


def test_a_running_worker_is_reported_by_readyz_and_gone_after_it_stops(client, celery_worker_process, settings):
    worker = celery_worker_process(WORKER_HEARTBEAT_SECONDS="1")
    ready = wait_for(lambda: (r := client.get("/readyz").json())["status"] == "ok" and r, timeout=60)
    assert ready["checks"] == {"database": True, "broker": True, "workers": True}
    assert [w["hostname"] for w in ready["workers"]] == [WorkerHeartbeat.objects.get().hostname]
    assert ready["workers"][0]["hostname"].startswith("test0@")

    worker.terminate()  # a clean (warm) shutdown removes its heartbeat at once
    worker.wait(timeout=30)
    assert not WorkerHeartbeat.objects.exists()
    after = client.get("/readyz")
    assert after.status_code == 200 and after.json()["status"] == "degraded"
