from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from customers.models import Customer
from customers.tests.factories import CustomerFactory
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_the_list_shows_customers_and_the_rules(agent_client: Client) -> None:
    CustomerFactory.create(key="c-1", name="Ann Lee", vip=True)
    response = agent_client.get("/customers/")
    body = response.content.decode()
    assert "Ann Lee" in body
    assert "A VIP customer&#x27;s ticket is at least high priority." in body


def test_a_bad_filter_is_a_400(agent_client: Client) -> None:
    assert agent_client.get("/customers/?search=" + "x" * 300).status_code == 400


def test_the_customer_page_shows_recent_tickets_and_the_trend(agent_client: Client) -> None:
    CustomerFactory.create(key="ann@example.com", name="Ann", attributes={"region": "EU"})
    TicketFactory.create(
        customer_id="", customer_email="ann@example.com", classified=True, subject="Broken export", sentiment="negative"
    )
    body = agent_client.get("/customers/ann@example.com/").content.decode()
    assert "Broken export" in body and "region" in body and "EU" in body
    assert 'class="dot sent-negative"' in body


def test_the_ticket_page_has_the_customer_panel(agent_client: Client) -> None:
    CustomerFactory.create(key="c-9", name="Bea", plan="enterprise", vip=True)
    earlier = TicketFactory.create(customer_id="c-9", classified=True, subject="Earlier problem")
    ticket = TicketFactory.create(customer_id="c-9", classified=True)
    body = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="customer-' in body and "Bea" in body and "enterprise" in body
    assert f"/tickets/{earlier.pk}/" in body
    assert "1 in 30 days" in body  # the other tickets: not this one
    assert "/tickets/?customer=c-9" in body


def test_a_ticket_without_a_known_customer_has_no_panel(agent_client: Client) -> None:
    ticket = TicketFactory.create(customer_id="nobody-yet")
    assert 'id="customer-' not in agent_client.get(f"/tickets/{ticket.pk}/").content.decode()


def test_the_pages_need_login_and_ticket_permission(client: Client, outsider: Any) -> None:
    CustomerFactory.create(key="c-1")
    assert client.get("/customers/").status_code == 302
    client.force_login(outsider)
    assert client.get("/customers/").status_code == 403
    assert client.get("/customers/c-1/").status_code == 403


def test_the_ticket_list_filters_by_customer(agent_client: Client, api_client: Any) -> None:
    mine = TicketFactory.create(customer_id="c-1")
    by_email = TicketFactory.create(customer_id="", customer_email="Ann@Example.com")
    TicketFactory.create(customer_id="c-2")
    listed = api_client.get("/api/v1/tickets/?customer=c-1").json()["results"]
    assert [t["id"] for t in listed] == [mine.pk]
    listed = api_client.get("/api/v1/tickets/?customer=ann@example.com").json()["results"]
    assert [t["id"] for t in listed] == [by_email.pk]
    page = agent_client.get("/tickets/?customer=c-1&state=").content.decode()
    assert f"/tickets/{mine.pk}/" in page and f"/tickets/{by_email.pk}/" not in page


def test_import_customers_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text('key,name,plan,vip,attributes\nc-1,Ann,enterprise,true,"{""region"": ""EU""}"\nc-2,Bob,,false,\n')
    call_command("import_customers", str(path), verbosity=0)
    assert list(Customer.objects.order_by("key").values_list("key", "plan", "vip")) == [
        ("c-1", "enterprise", True),
        ("c-2", "", False),
    ]
    assert Customer.objects.get(key="c-1").attributes == {"region": "EU"}


def test_import_rejects_the_whole_file_for_one_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text('{"key": "c-1"}\n{"key": "c-2", "email": "nope"}\n')
    with pytest.raises(CommandError, match="1 of 2 rows rejected"):
        call_command("import_customers", str(path), verbosity=0)
    assert not Customer.objects.exists()


def test_admin_shows_the_rules_and_audits_a_change(admin_client: Client) -> None:
    customer = CustomerFactory.create(key="c-5", name="Cat")
    listing = admin_client.get("/admin/customers/customer/").content.decode()
    assert "A VIP customer&#x27;s ticket is at least high priority." in listing
    form = {"key": "c-5", "name": "Cat", "plan": "enterprise", "vip": "on", "attributes": "{}"}
    assert admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", form).status_code == 302
    customer.refresh_from_db()
    assert (customer.plan, customer.vip) == ("enterprise", True)
    from audit.models import AuditEntry

    assert set(AuditEntry.objects.get(action="customer.changed").detail["fields"]) >= {"plan", "vip"}
