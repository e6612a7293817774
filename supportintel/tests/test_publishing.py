"""Publishing after the commit: bounded in time whatever the broker does, and never a 500 for a saved ticket.
The same faults against a real frozen and a real stopped Redis are in test_faults.py."""

from __future__ import annotations

import threading
import time

import pytest

from classification import services
from classification.tasks import classify_tickets_task
from supportintel import publishing
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


@pytest.fixture
def broker_raises(monkeypatch):
    """The broker library raising something other than kombu's OperationalError."""
    calls = []

    def apply_async(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("the broker library broke in an unexpected way")

    monkeypatch.setattr(classify_tickets_task, "apply_async", apply_async)
    return calls


@pytest.fixture
def broker_hangs(monkeypatch, settings):
    """A broker that takes the connection and never answers (a frozen Redis)."""
    settings.BROKER_CALL_TIMEOUT_SECONDS = 0.3
    release = threading.Event()
    calls = []

    def apply_async(*args, **kwargs):
        calls.append(args)
        release.wait(30)

    monkeypatch.setattr(classify_tickets_task, "apply_async", apply_async)
    yield calls
    release.set()


def test_a_publish_that_raises_anything_still_answers_202_and_leaves_the_ticket_for_the_sweep(
    api_client, broker_raises, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, {"subject": "Refund", "body": "Charged twice"}, format="json")
    assert response.status_code == 202 and response.data["status"] == "queued"
    ticket = Ticket.objects.get()
    assert broker_raises and ticket.unpublished is True
    assert services.find_stuck_tickets() == [ticket.pk]  # the next sweep takes it, not one 5 minutes later
    ticket.refresh_from_db()
    assert ticket.unpublished is False


def test_a_publish_to_a_broker_that_never_answers_is_cut_off_at_the_deadline(
    api_client, broker_hangs, django_capture_on_commit_callbacks
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(URL, {"body": "Cannot log in"}, format="json")
    # The deadline is 0.3 s; a hang would hold the request for the 30 s the fake broker waits.
    assert time.monotonic() - started < 10
    with django_capture_on_commit_callbacks(execute=True):
        second = api_client.post(URL, {"body": "Still cannot log in"}, format="json")
    assert first.status_code == second.status_code == 202
    assert len(broker_hangs) == 1  # after one stuck publish the next request does not wait on the broker at all
    assert sorted(Ticket.objects.filter(unpublished=True).values_list("pk", flat=True)) == sorted(
        [first.data["id"], second.data["id"]]
    )


def test_a_resent_ticket_after_a_failed_publish_is_not_a_duplicate(
    api_client, broker_raises, django_capture_on_commit_callbacks
):
    body = {"body": "Charged twice", "channel": "email", "external_id": "mail-7"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(URL, body, format="json")
        again = api_client.post(URL, body, format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert Ticket.objects.count() == 1


def test_calls_after_a_failure_fail_at_once_until_the_retry_interval_passes(settings):
    settings.BROKER_RETRY_AFTER_SECONDS = 0.2
    calls = []

    def failing() -> None:
        calls.append(1)
        raise ConnectionRefusedError

    with pytest.raises(publishing.BrokerUnavailable):
        publishing.call(failing, what="test")
    with pytest.raises(publishing.BrokerUnavailable, match="failed recently"):
        publishing.call(failing, what="test")
    assert len(calls) == 1
    time.sleep(0.3)
    assert publishing.call(lambda: "answered", what="test") == "answered"


def test_the_broker_marker_says_when_redis_lost_what_it_held(settings):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        assert publishing.broker_lost_messages() is False  # the filesystem broker keeps messages on disk
        return
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("supportintel:broker-marker")  # what a restart without persistence does
    assert publishing.broker_lost_messages() is True
    assert publishing.broker_lost_messages() is False
