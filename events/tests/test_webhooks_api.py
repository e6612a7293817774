from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from events.models import Delivery, Event, WebhookSubscription
from events.tests.factories import WebhookSubscriptionFactory
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOOK_PERMS = [f"events.{p}_webhooksubscription" for p in ("view", "add", "change", "delete")]


@pytest.fixture
def integrator() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory.create(username="integrator", permissions=HOOK_PERMS))
    return client


def test_creating_a_subscription_returns_its_secret_once_and_is_audited(integrator: APIClient) -> None:
    body = {
        "name": "CRM",
        "url": "https://crm.example/hook",
        "events": ["ticket.classified"],
        "categories": ["billing"],
    }
    response = integrator.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert (created["events"], created["categories"]) == (["ticket.classified"], ["billing"])
    again = integrator.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in again
    entry = AuditEntry.objects.get(action="webhook.created")
    assert entry.detail["url"] == "https://crm.example/hook" and "secret" not in entry.detail


@pytest.mark.parametrize(
    ("field", "value"),
    [("events", ["ticket.exploded"]), ("events", []), ("url", "ftp://x.example/"), ("categories", ["nope"])],
)
def test_a_bad_subscription_is_a_400(integrator: APIClient, field: str, value: Any) -> None:
    body = {"name": "x", "url": "https://x.example/", "events": ["ticket.created"], field: value}
    response = integrator.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_turning_a_disabled_subscription_on_clears_its_reason(integrator: APIClient) -> None:
    hook = WebhookSubscriptionFactory.create(
        active=False, disabled_reason="Disabled after 20 failed attempts", consecutive_failures=20
    )
    response = integrator.patch(f"/api/v1/webhooks/{hook.pk}/", {"active": True}, format="json")
    assert response.status_code == 200
    hook.refresh_from_db()
    assert (hook.active, hook.disabled_reason, hook.consecutive_failures) == (True, "", 0)
    assert AuditEntry.objects.filter(action="webhook.changed").count() == 1


def test_the_delivery_log_and_redeliver(integrator: APIClient) -> None:
    hook = WebhookSubscriptionFactory.create()
    event = Event.objects.create(type="ticket.created", payload={})
    delivery = Delivery.objects.create(subscription=hook, event=event, status="failed", attempts=9, response_code=500)
    log = integrator.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert [(d["id"], d["status"], d["response_code"], d["event_id"]) for d in log] == [
        (delivery.pk, "failed", 500, str(event.pk))
    ]
    response = integrator.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.json() == {"redelivered": 1}
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert AuditEntry.objects.filter(action="webhook.redelivered").exists()


def test_a_delivery_of_another_subscription_cannot_be_redelivered_through_this_one(integrator: APIClient) -> None:
    mine, other = WebhookSubscriptionFactory.create(), WebhookSubscriptionFactory.create()
    event = Event.objects.create(type="ticket.created", payload={})
    delivery = Delivery.objects.create(subscription=other, event=event, status="failed")
    assert integrator.post(f"/api/v1/webhooks/{mine.pk}/deliveries/{delivery.pk}/redeliver/").status_code == 404


def test_the_schemas_are_published(integrator: APIClient) -> None:
    published = integrator.get("/api/v1/webhooks/schemas/").json()
    assert published["ticket.classified"]["properties"]["schema_version"] == {"const": 1}


def test_anonymous_requests_are_refused() -> None:
    assert APIClient().get("/api/v1/webhooks/").status_code == 401


def test_an_agent_without_webhook_permissions_cannot_read_or_add_subscriptions(agent: Any) -> None:
    client = APIClient()
    client.force_authenticate(agent)
    assert client.get("/api/v1/webhooks/").status_code == 403
    response = client.post(
        "/api/v1/webhooks/", {"name": "x", "url": "https://x.example/", "events": ["ticket.created"]}
    )
    assert response.status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_deleting_a_subscription_is_audited(integrator: APIClient) -> None:
    hook = WebhookSubscriptionFactory.create()
    assert integrator.delete(f"/api/v1/webhooks/{hook.pk}/").status_code == 204
    assert AuditEntry.objects.get(action="webhook.deleted").target == f"webhook:{hook.pk}"
