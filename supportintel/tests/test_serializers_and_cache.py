"""Fields built once per serializer class, copied for each serializer; the Redis cache's client reused."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from classification.tests.factories import ClassificationFactory
from tickets.api.serializers import TicketCreateSerializer, TicketDetailSerializer, TicketSerializer
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_each_serializer_gets_its_own_bound_fields_and_context(settings):
    settings.ALLOWED_HOSTS = ["one.example", "two.example"]
    ticket = TicketFactory.create()
    first = TicketSerializer(ticket, context={"request": RequestFactory().get("/", HTTP_HOST="one.example")})
    second = TicketSerializer(ticket, context={"request": RequestFactory().get("/", HTTP_HOST="two.example")})
    assert first.data["status_url"] == f"http://one.example/api/v1/tickets/{ticket.pk}/"
    assert second.data["status_url"] == f"http://two.example/api/v1/tickets/{ticket.pk}/"
    assert first.fields["status"] is not second.fields["status"]
    assert first.fields["status"].parent is first and second.fields["status"].parent is second


def test_nested_serializers_are_not_shared_between_serializers():
    one, other = TicketFactory.create(), TicketFactory.create()
    ClassificationFactory.create(ticket=one, category="billing")
    ClassificationFactory.create(ticket=other, category="account")
    first, second = TicketDetailSerializer(one), TicketDetailSerializer(other)
    assert [row["category"] for row in first.data["classifications"]] == ["billing"]
    assert [row["category"] for row in second.data["classifications"]] == ["account"]
    assert first.fields["classifications"] is not second.fields["classifications"]


def test_validation_is_the_same_with_fields_built_once():
    assert TicketCreateSerializer(data={"body": "Charged twice", "channel": "email"}).is_valid()
    invalid = TicketCreateSerializer(data={"body": "x", "channel": "pigeon", "customer_email": "not-an-email"})
    assert not invalid.is_valid()
    assert set(invalid.errors) == {"channel", "customer_email"}
    again = TicketCreateSerializer(data={"subject": "", "body": ""})
    assert not again.is_valid() and "body" in again.errors


def test_the_redis_cache_reuses_one_client(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL; .ci/run runs this on Redis")
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    assert cache._cache.get_client(write=True) is client  # type: ignore[attr-defined]
    cache.set("supportintel:test-reuse", 42, 10)
    assert cache.get("supportintel:test-reuse") == 42
    cache.delete("supportintel:test-reuse")
