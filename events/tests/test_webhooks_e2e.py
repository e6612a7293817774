"""Events out end to end: a real Celery worker (with beat: the relay), the configured broker, the test
database and a real local HTTP receiver that verifies every signature."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import wait_for
from events.fake_receiver import FakeReceiver
from events.models import Delivery, DeliveryStatus
from events.tests.factories import WebhookSubscriptionFactory
from tickets import services as tickets

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Fast retries and a short claim for the test; the delivery timeout stays above the receiver's hang below.
WORKER_ENV = {
    "EVENTS_RELAY_INTERVAL_SECONDS": "0.5",
    "EVENTS_RETRY_BASE_SECONDS": "0.5",
    "EVENTS_DELIVERY_TIMEOUT_SECONDS": "3",
    "EVENTS_CLAIM_STALE_SECONDS": "5",
}


@pytest.fixture
def live_receiver() -> Iterator[FakeReceiver]:
    server = FakeReceiver(secret=WebhookSubscriptionFactory.secret).start()
    yield server
    server.stop()


def test_a_receiver_failing_twice_gets_the_same_signed_event_three_times(
    celery_worker_process: Any, live_receiver: FakeReceiver
) -> None:
    WebhookSubscriptionFactory.create(url=live_receiver.url, events=["ticket.classified"])
    live_receiver.fail_next = 2
    celery_worker_process(beat=True, pool="threads", concurrency=4, **WORKER_ENV)
    ticket, _ = tickets.create_ticket({"subject": "Charged twice", "body": "Refund the duplicate invoice charge"})

    wait_for(live_receiver.accepted, timeout=90)
    assert [r.headers["answered"] for r in live_receiver.received] == ["500", "500", "200"]
    assert all(r.signature_ok for r in live_receiver.received)
    assert len(set(live_receiver.ids())) == 1
    event = live_receiver.received[-1].event
    assert event["type"] == "ticket.classified" and event["data"]["ticket"]["id"] == ticket.pk
    assert event["data"]["classification"]["category"] == "billing"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 3, 200)


def test_a_worker_killed_mid_delivery_loses_nothing(celery_worker_process: Any, live_receiver: FakeReceiver) -> None:
    WebhookSubscriptionFactory.create(url=live_receiver.url, events=["ticket.created"])
    live_receiver.delay_seconds = 30  # the first delivery hangs inside the worker
    first = celery_worker_process(beat=True, pool="threads", concurrency=2, **WORKER_ENV)
    tickets.create_ticket({"subject": "Lost?", "body": "Will this event survive a dead worker?"})

    wait_for(lambda: live_receiver.arrived, timeout=90)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    [event_id] = live_receiver.arrived
    assert Delivery.objects.get().status == DeliveryStatus.PENDING  # the attempt never finished

    live_receiver.delay_seconds = 0
    celery_worker_process(beat=True, pool="threads", concurrency=2, **WORKER_ENV)
    delivered = wait_for(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first(), timeout=90)
    assert [r.event["id"] for r in live_receiver.accepted()] == [event_id]
    assert delivered.attempts == 1  # the killed attempt was never recorded; the one that finished was
