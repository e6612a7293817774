"""Relay and delivery against a real local receiver (in this process, over HTTP)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from events import delivery, services, signing
from events.fake_receiver import FakeReceiver
from events.models import Delivery, DeliveryStatus, Event, EventType, WebhookSubscription
from events.tests.factories import WebhookSubscriptionFactory
from tickets import services as tickets
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _relay_and_deliver() -> list[bool | None]:
    services.relay_events()
    return [delivery.deliver(pk) for pk in services.due_deliveries()]


def test_a_delivery_is_signed_and_carries_the_ticket_as_the_api_shows_it(receiver: FakeReceiver) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    ticket, _ = tickets.create_ticket({"subject": "Printer on fire", "body": "it burns"})
    assert _relay_and_deliver() == [True]
    [got] = receiver.received
    assert got.signature_ok
    assert got.event["type"] == "ticket.created"
    assert got.event["data"]["ticket"]["id"] == ticket.pk
    assert got.event["data"]["ticket"]["subject"] == "Printer on fire"
    assert got.headers["x-supportintel-event-id"] == got.event["id"]
    row = Delivery.objects.get()
    assert (row.status, row.response_code, row.attempts) == (DeliveryStatus.SUCCEEDED, 200, 1)


def test_a_failed_attempt_is_retried_later_with_the_same_event_id(receiver: FakeReceiver, settings: Any) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    receiver.fail_next = 1
    assert _relay_and_deliver() == [False]
    row = Delivery.objects.get()
    assert (row.status, row.response_code, row.attempts, row.error) == ("pending", 500, 1, "HTTP 500")
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=settings.EVENTS_RETRY_BASE_SECONDS * 0.7)
    assert services.due_deliveries() == []  # not due yet
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert _relay_and_deliver() == [True]
    first, second = receiver.ids()
    assert first == second


def test_backoff_doubles_up_to_its_cap(settings: Any) -> None:
    settings.EVENTS_RETRY_BASE_SECONDS, settings.EVENTS_RETRY_MAX_DELAY_SECONDS = 10, 3600
    for attempts, most in ((1, 10), (2, 20), (3, 40), (30, 3600)):
        assert most * 0.8 <= delivery.backoff(attempts) <= most


def test_it_gives_up_after_a_day(receiver: FakeReceiver) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    services.relay_events()
    Delivery.objects.update(created=timezone.now() - timedelta(days=1, seconds=1))
    receiver.fail_next = 1
    [pk] = services.due_deliveries()
    assert delivery.deliver(pk) is False
    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_a_subscription_failing_past_both_thresholds_is_disabled_with_the_reason(
    receiver: FakeReceiver, settings: Any
) -> None:
    settings.EVENTS_DISABLE_AFTER_FAILURES, settings.EVENTS_DISABLE_AFTER_SECONDS = 3, 0
    subscription = WebhookSubscriptionFactory.create(url=receiver.url)
    for i in range(3):
        tickets.create_ticket({"subject": f"t{i}"})
    receiver.fail_next = 10
    _relay_and_deliver()
    subscription.refresh_from_db()
    assert not subscription.active
    assert subscription.disabled_reason == "Disabled after 3 failed attempts in a row; the last one: HTTP 500"
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert services.due_deliveries() == []  # nothing goes to a disabled endpoint


def test_a_success_resets_the_failure_count(receiver: FakeReceiver) -> None:
    subscription = WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "a"})
    tickets.create_ticket({"subject": "b"})
    receiver.fail_next = 1
    assert sorted(map(bool, _relay_and_deliver())) == [False, True]
    subscription.refresh_from_db()
    assert (subscription.consecutive_failures, subscription.failing_since) == (0, None)


def test_a_receiver_that_does_not_answer_costs_one_short_timeout(receiver: FakeReceiver, settings: Any) -> None:
    settings.EVENTS_DELIVERY_TIMEOUT_SECONDS = 0.3
    receiver.delay_seconds = 2
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    started = time.monotonic()
    assert _relay_and_deliver() == [False]
    assert time.monotonic() - started < 2
    assert Delivery.objects.get().error == "no answer within 0.3 s"


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(receiver: FakeReceiver, settings: Any) -> None:
    settings.EVENTS_DELIVERY_TIMEOUT_SECONDS = 0.5
    receiver.trickle_seconds = 0.2  # a header line every 0.2 s: each read is quick, the answer takes 2 s
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    started = time.monotonic()
    assert _relay_and_deliver() == [False]
    assert time.monotonic() - started < 1.5
    assert Delivery.objects.get().error == "no answer within 0.5 s"


def test_an_unreachable_receiver_is_a_failed_attempt(settings: Any) -> None:
    WebhookSubscriptionFactory.create(url="http://127.0.0.1:9/hook")  # discard port: nothing listens
    tickets.create_ticket({"subject": "x"})
    assert _relay_and_deliver() == [False]
    row = Delivery.objects.get()
    assert row.response_code is None and row.error.startswith("ConnectionRefusedError")


def test_a_claimed_delivery_is_not_sent_twice_until_its_claim_goes_stale(receiver: FakeReceiver) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    services.relay_events()
    [pk] = services.due_deliveries()
    Delivery.objects.filter(pk=pk).update(claimed_at=timezone.now())  # a worker holds it
    assert delivery.deliver(pk) is None
    assert services.due_deliveries() == []  # its message is out
    stale = timezone.now() - timedelta(minutes=5)
    Delivery.objects.filter(pk=pk).update(claimed_at=stale, queued_at=stale)  # that worker died
    assert services.due_deliveries() == [pk]
    assert delivery.deliver(pk) is True


def test_subscriptions_get_only_the_types_and_categories_they_want(receiver: FakeReceiver) -> None:
    from classification import services as classification

    WebhookSubscriptionFactory.create(url=receiver.url, events=["ticket.classified"], categories=["billing"])
    billing = TicketFactory.create(subject="Invoice charged twice", body="refund the duplicate charge on my invoice")
    other = TicketFactory.create(subject="Feature idea", body="please add dark mode, a suggestion")
    classification.classify_tickets([billing.pk, other.pk])
    _relay_and_deliver()
    assert [(r.event["type"], r.event["data"]["ticket"]["id"]) for r in receiver.received] == [
        ("ticket.classified", billing.pk)
    ]
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 0


def test_redeliver_sends_a_delivered_event_again_with_the_same_id(receiver: FakeReceiver, agent: Any) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    _relay_and_deliver()
    assert services.redeliver([Delivery.objects.get().pk], actor=agent) == 1
    _relay_and_deliver()
    first, second = receiver.ids()
    assert first == second
    assert Delivery.objects.get().attempts == 2


def test_an_event_relayed_twice_gets_one_delivery_per_subscription(receiver: FakeReceiver) -> None:
    WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    services.relay_events()
    Event.objects.update(dispatched_at=None)  # a crash before the mark was committed
    services.relay_events()
    assert Delivery.objects.count() == 1


def test_signature_verification_rejects_a_changed_body_an_old_timestamp_and_another_secret() -> None:
    body = b'{"id":"1"}'
    header = signing.header("s3cret", body)
    assert signing.verify("s3cret", header, body)
    assert not signing.verify("s3cret", header, body + b" ")
    assert not signing.verify("other", header, body)
    assert not signing.verify("s3cret", signing.header("s3cret", body, timestamp=int(time.time()) - 600), body)
    assert not signing.verify("s3cret", "garbage", body)


def test_deleting_a_subscription_deletes_its_log(receiver: FakeReceiver) -> None:
    subscription = WebhookSubscriptionFactory.create(url=receiver.url)
    tickets.create_ticket({"subject": "x"})
    _relay_and_deliver()
    WebhookSubscription.objects.filter(pk=subscription.pk).delete()
    assert Delivery.objects.count() == 0
    assert Event.objects.filter(type=EventType.TICKET_CREATED).count() == 1
