"""A real Celery worker process, the configured broker (filesystem or Redis) and the test database."""

from __future__ import annotations

import pytest

from classification.models import Classification
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


def test_a_chunk_whose_worker_is_killed_mid_way_is_finished_by_its_redelivery_once_each(
    fake_llm, celery_worker_process, agent
):
    """A real worker (threads pool, as compose runs it) classifying a chunk through the LLM, one call at a
    time, is SIGKILLed after writing part of it; a person corrects one of the tickets it held. The same
    message delivered again (what Redis does with an unacknowledged one) to a new worker takes its claims
    back and finishes the chunk: every ticket classified once, the correction kept."""
    from classification import services
    from classification.tasks import classify_tickets_task
    from tickets.tests.factories import TicketFactory

    fake_llm.state.configure({"latency_ms": 400})
    env = {
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "test",
        "LLM_MODEL": "fake-classifier",
        "LLM_TIMEOUT_SECONDS": "5",
        "LLM_CONCURRENCY": "1",
        "LLM_BREAKER_STORAGE": "database",
    }
    ids = [t.pk for t in TicketFactory.create_batch(8, subject="Charged twice", body="Please refund my order.")]
    worker = celery_worker_process(pool="threads", concurrency=2, **env)
    classify_tickets_task.apply_async(args=(ids,), task_id="chunk-1")
    wait_for(lambda: Ticket.objects.filter(pk__in=ids, status=Status.CLASSIFIED).count() >= 2, timeout=90)
    worker.kill()
    worker.wait(timeout=30)

    held = list(Ticket.objects.filter(pk__in=ids, status=Status.PROCESSING, claimed_by="chunk-1").order_by("pk"))
    assert held, "the worker died holding part of the chunk"
    corrected = held[0]
    services.record_correction(corrected, agent, {"category": "account"})

    celery_worker_process(pool="threads", concurrency=2, **env)
    classify_tickets_task.apply_async(args=(ids,), task_id="chunk-1")  # redelivered
    tickets = wait_for(
        lambda: (t := list(Ticket.objects.filter(pk__in=ids, status=Status.CLASSIFIED))) and len(t) == len(ids) and t,
        timeout=90,
    )
    automatic = Classification.objects.filter(ticket_id__in=ids).exclude(source="human")
    per_ticket = {ticket_id: list(automatic.values_list("ticket_id", flat=True)).count(ticket_id) for ticket_id in ids}
    assert all(count <= 1 for count in per_ticket.values()), per_ticket  # none classified twice
    assert {t.pk for t in tickets if t.classification_source == "llm"} == set(ids) - {corrected.pk}
    corrected.refresh_from_db()
    assert (corrected.category, corrected.classification_source) == ("account", "human")
    assert not automatic.filter(ticket_id=corrected.pk, created__gt=corrected.classified_at).exists()
