"""Sending one delivery: claim it, POST the signed body with short timeouts, record the answer, and
schedule the next attempt (exponential backoff) or give up after EVENTS_RETRY_FOR_SECONDS. A subscription
failing for EVENTS_DISABLE_AFTER_FAILURES attempts in a row and EVENTS_DISABLE_AFTER_SECONDS is disabled,
with the reason."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from events import signing
from events.models import Delivery, WebhookSubscription

logger = logging.getLogger(__name__)

USER_AGENT = "SupportIntel-Webhooks/1"


@dataclass
class Answer:
    ok: bool
    code: int | None
    error: str
    latency_ms: int


def _claim(delivery_id: int, now: datetime) -> Delivery | None:
    stale = now - timedelta(seconds=settings.EVENTS_CLAIM_STALE_SECONDS)
    claimed = Delivery.objects.filter(pk=delivery_id).claim(now=now, stale_before=stale)
    if not claimed:
        return None
    return Delivery.objects.select_related("event", "subscription").filter(pk=delivery_id).first()


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.header(delivery.subscription.secret, body),
        "X-SupportIntel-Event": delivery.event.type,
        "X-SupportIntel-Event-Id": str(delivery.event_id),
        "X-SupportIntel-Delivery": str(delivery.pk),
    }


def _shutdown(connection: http.client.HTTPConnection) -> None:
    # Unblocks the thread waiting on this socket (it then raises OSError).
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _post(delivery: Delivery) -> Answer:
    """One POST, over within EVENTS_DELIVERY_TIMEOUT_SECONDS in all: the socket timeout bounds each read, and a
    watchdog shuts the socket at the deadline, so a receiver trickling its answer byte by byte cannot hold
    the worker longer either."""
    body = body_of(delivery)
    url = urlsplit(delivery.subscription.url)
    timeout = settings.EVENTS_DELIVERY_TIMEOUT_SECONDS
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    started = time.perf_counter()
    try:
        connection = connection_class(url.hostname or "", url.port, timeout=timeout)
    except ValueError as exc:  # e.g. a port that is not a number
        return Answer(False, None, f"bad URL: {exc}"[:500], _ms(started))
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _shutdown(connection)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.request("POST", path, body=body, headers=_headers(delivery, body))
        response = connection.getresponse()
        response.read(1024)
        code = response.status
    except (OSError, http.client.HTTPException) as exc:
        late = expired.is_set() or isinstance(exc, TimeoutError)
        error = f"no answer within {timeout:g} s" if late else f"{type(exc).__name__}: {exc}"
        return Answer(False, None, error[:500], _ms(started))
    finally:
        watchdog.cancel()
        connection.close()
    if expired.is_set():
        # The shutdown can read as the end of the answer (EOF after a status line): not an answer in time.
        return Answer(False, None, f"no answer within {timeout:g} s", _ms(started))
    ok = 200 <= code < 300
    return Answer(ok, code, "" if ok else f"HTTP {code}", _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from EVENTS_RETRY_BASE_SECONDS, capped at
    EVENTS_RETRY_MAX_DELAY_SECONDS, with jitter so a receiver back from an outage is not hit all at once."""
    delay = min(
        settings.EVENTS_RETRY_BASE_SECONDS * 2.0 ** max(attempts - 1, 0), settings.EVENTS_RETRY_MAX_DELAY_SECONDS
    )
    return delay * random.uniform(0.8, 1.0)


def _succeeded(delivery: Delivery, answer: Answer, claimed_at: datetime, now: datetime) -> None:
    Delivery.objects.filter(pk=delivery.pk).succeed(
        claimed_at=claimed_at, now=now, code=answer.code, latency_ms=answer.latency_ms
    )
    # Only a subscription that was failing (as read with the claim) is written to: a steady stream of successes
    # costs no query here. A failure recorded meanwhile by another task is reset by its next success.
    if delivery.subscription.consecutive_failures:
        WebhookSubscription.objects.filter(pk=delivery.subscription_id).update(
            consecutive_failures=0, failing_since=None
        )


def _failed(delivery: Delivery, answer: Answer, claimed_at: datetime, now: datetime) -> None:
    attempts = delivery.attempts + 1
    gives_up = now - delivery.created >= timedelta(seconds=settings.EVENTS_RETRY_FOR_SECONDS)
    Delivery.objects.filter(pk=delivery.pk).fail(
        claimed_at=claimed_at,
        attempts=attempts,
        give_up=gives_up,
        retry_at=now + timedelta(seconds=backoff(attempts)),
        code=answer.code,
        error=answer.error,
        latency_ms=answer.latency_ms,
    )
    subscriptions = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
    subscriptions.filter(failing_since__isnull=True).update(failing_since=now)
    subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
    _disable_if_failing(delivery.subscription_id, answer, now)
    logger.info(
        "delivery %s of event %s: attempt %d failed (%s)%s",
        delivery.pk,
        delivery.event_id,
        attempts,
        answer.error,
        "; giving up" if gives_up else "",
    )


def _disable_if_failing(subscription_id: int, answer: Answer, now: datetime) -> None:
    since = now - timedelta(seconds=settings.EVENTS_DISABLE_AFTER_SECONDS)
    threshold = settings.EVENTS_DISABLE_AFTER_FAILURES
    reason = f"Disabled after {threshold} failed attempts in a row; the last one: {answer.error or 'no answer'}"
    disabled = WebhookSubscription.objects.filter(
        pk=subscription_id, active=True, consecutive_failures__gte=threshold, failing_since__lte=since
    ).update(active=False, disabled_reason=reason[:300], disabled_at=now)
    if disabled:
        logger.warning("webhook subscription %s disabled: %s", subscription_id, reason)


def deliver(delivery_id: int) -> bool | None:
    """Send one delivery if it is pending and no live task holds it. Returns whether the receiver took it
    (None: nothing to do: delivered already, held by another task, subscription inactive, or deleted)."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    if not delivery.subscription.active:
        Delivery.objects.filter(pk=delivery_id).release(claimed_at=now)
        return None
    answer = _post(delivery)
    done = timezone.now()
    if answer.ok:
        _succeeded(delivery, answer, now, done)
    else:
        _failed(delivery, answer, now, done)
    return answer.ok
