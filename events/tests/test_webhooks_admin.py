from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from events import services
from events.models import Delivery, Event, WebhookSubscription
from events.tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db


def test_admin_shows_the_disabled_reason_and_the_delivery_log(admin_client: Client) -> None:
    hook = WebhookSubscriptionFactory.create(active=False, disabled_reason="Disabled after 20 failed attempts in a row")
    event = Event.objects.create(type="ticket.classified", payload={})
    Delivery.objects.create(subscription=hook, event=event, status="failed", response_code=503, attempts=7)
    listing = admin_client.get("/admin/events/webhooksubscription/").content.decode()
    assert "disabled: Disabled after 20 failed attempts in a row" in listing
    page = admin_client.get(f"/admin/events/webhooksubscription/{hook.pk}/change/").content.decode()
    assert "503" in page and "Delivery log" in page


def test_admin_creates_a_subscription_and_the_audit_log_records_it(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/events/webhooksubscription/add/",
        {
            "name": "CRM",
            "url": "https://crm.example/hook",
            "events": ["ticket.classified"],
            "secret": "whsec_a_long_enough_secret",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    hook = WebhookSubscription.objects.get()
    assert hook.events == ["ticket.classified"] and hook.categories == []
    assert AuditEntry.objects.get(action="webhook.created").target == f"webhook:{hook.pk}"


def test_the_redeliver_action(admin_client: Client, admin_user: Any) -> None:
    hook = WebhookSubscriptionFactory.create()
    event = Event.objects.create(type="ticket.classified", payload={})
    delivery = Delivery.objects.create(subscription=hook, event=event, status="failed")
    admin_client.post("/admin/events/delivery/", {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert AuditEntry.objects.get(action="webhook.redelivered").actor == admin_user


def test_prune_deletes_old_events_once_nothing_is_pending(settings: Any) -> None:
    hook = WebhookSubscriptionFactory.create()
    old = timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS + 1)
    done = Event.objects.create(type="ticket.created", created=old, dispatched_at=old)
    waiting = Event.objects.create(type="ticket.created", created=old, dispatched_at=old)
    Delivery.objects.create(subscription=hook, event=waiting, status="pending")
    Event.objects.create(type="ticket.created")  # recent
    assert services.prune() == 1
    assert not Event.objects.filter(pk=done.pk).exists()
    assert Event.objects.count() == 2
