from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm() -> APIClient:
    """An integration that keeps customer records up to date."""
    client = APIClient()
    user = UserFactory.create(username="crm", permissions=["customers.add_customer", "customers.change_customer"])
    client.force_authenticate(user)
    return client


@pytest.fixture
def reader(agent: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


def test_put_creates_then_updates_a_customer_by_key(crm: APIClient) -> None:
    body = {"name": "Ann", "plan": "enterprise", "vip": True, "attributes": {"region": "EU"}}
    created = crm.put("/api/v1/customers/ann@example.com/", body, format="json")
    assert created.status_code == 201, created.json()
    updated = crm.put("/api/v1/customers/ann@example.com/", {"plan": "pro"}, format="json")
    assert updated.status_code == 200
    customer = Customer.objects.get(key="ann@example.com")
    assert (customer.name, customer.plan, customer.vip, customer.attributes) == ("Ann", "pro", True, {"region": "EU"})
    assert AuditEntry.objects.filter(action="customer.changed", target="customer:ann@example.com").count() == 2


def test_attributes_must_be_an_object(crm: APIClient) -> None:
    response = crm.put("/api/v1/customers/c-1/", {"attributes": [1, 2]}, format="json")
    assert response.status_code == 400
    assert "attributes" in response.json()["error"]["details"]
    assert not Customer.objects.exists()


def test_bulk_is_all_or_nothing(crm: APIClient) -> None:
    rows = [{"key": "a", "name": "A"}, {"key": "b", "email": "not an email"}]
    assert crm.post("/api/v1/customers/bulk/", {"customers": rows}, format="json").status_code == 400
    assert not Customer.objects.exists()
    rows[1]["email"] = "b@example.com"
    CustomerFactory.create(key="a", name="old")
    response = crm.post("/api/v1/customers/bulk/", {"customers": rows}, format="json")
    assert response.json() == {"created": 1, "updated": 1}
    assert Customer.objects.get(key="a").name == "A"


def test_the_detail_carries_the_context(reader: APIClient) -> None:
    CustomerFactory.create(key="c-7", vip=True)
    TicketFactory.create_batch(2, customer_id="c-7", classified=True, sentiment="negative")
    data = reader.get("/api/v1/customers/c-7/").json()
    assert data["vip"] is True
    assert data["context"]["tickets_30d"] == 2
    assert [t["sentiment"] for t in data["context"]["recent_tickets"]] == ["negative", "negative"]
    assert data["context"]["sentiment_trend"] == "steady"


def test_an_agent_reads_customers_but_cannot_write_them(reader: APIClient) -> None:
    CustomerFactory.create(key="c-1")
    assert [c["key"] for c in reader.get("/api/v1/customers/").json()["results"]] == ["c-1"]
    assert reader.put("/api/v1/customers/c-1/", {"vip": True}, format="json").status_code == 403
    assert Customer.objects.get(key="c-1").vip is False


def test_anonymous_and_outsiders_are_refused(outsider: Any) -> None:
    assert APIClient().get("/api/v1/customers/").status_code == 401
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/customers/").status_code == 403


def test_the_list_filters_by_search_and_vip(reader: APIClient) -> None:
    CustomerFactory.create(key="x-1", name="Acme buyer", vip=True)
    CustomerFactory.create(key="x-2", name="Other")
    assert [c["key"] for c in reader.get("/api/v1/customers/?vip=true").json()["results"]] == ["x-1"]
    assert [c["key"] for c in reader.get("/api/v1/customers/?search=acme").json()["results"]] == ["x-1"]
