"""The customer context at classification: computed in the database per chunk, used by the rules, the
prompt and the explanation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from classification import services as classification
from customers import context
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _history(key: str, n: int, **fields: Any) -> list[Ticket]:
    return TicketFactory.create_batch(n, classified=True, customer_id=key, **fields)


def test_a_customer_is_created_on_first_sight_by_the_worker() -> None:
    ticket = TicketFactory.create(customer_id="", customer_email="Ann@Example.com", customer_name="Ann")
    classification.classify_ticket(ticket.pk)
    customer = Customer.objects.get()
    assert (customer.key, customer.email, customer.name) == ("ann@example.com", "ann@example.com", "Ann")


def test_creating_a_ticket_creates_no_customer_in_the_request_path() -> None:
    from tickets import services

    services.create_ticket({"subject": "x", "customer_id": "c-9"})
    assert not Customer.objects.exists()


def test_the_context_counts_the_customers_other_tickets() -> None:
    now = timezone.now()
    _history("c-1", 2, category="billing", sentiment="negative")
    _history("c-1", 1, category="billing", created=now - timedelta(days=60))
    _history("c-1", 1, category="technical", priority="critical", created=now - timedelta(days=200))
    TicketFactory.create(customer_id="c-2", classified=True)  # someone else
    ticket = TicketFactory.create(customer_id="c-1")
    found = context.for_tickets([ticket])[ticket.pk]
    assert (found.tickets_30d, found.tickets_90d, found.escalations) == (2, 3, 1)
    assert found.open_tickets == 4
    assert found.repeats("billing") == 2 and found.repeats("technical") == 0
    assert found.last_sentiments[:2] == ["negative", "negative"]


def test_email_only_tickets_match_in_any_case() -> None:
    TicketFactory.create(customer_id="", customer_email="BOB@example.com", classified=True)
    ticket = TicketFactory.create(customer_id="", customer_email="bob@example.com")
    assert context.for_tickets([ticket])[ticket.pk].tickets_30d == 1


def test_a_chunk_reads_the_context_in_the_same_queries_whatever_its_size(django_assert_max_num_queries: Any) -> None:
    tickets = [TicketFactory.create(customer_id=f"k{i}") for i in range(20)]
    for t in tickets:
        _history(t.customer_id, 2)
    with django_assert_max_num_queries(4):  # customers read, first sight inserted, two aggregates
        found = context.for_tickets(tickets)
    assert all(found[t.pk].tickets_30d == 2 for t in tickets)


def test_a_vip_ticket_is_raised_to_high_and_the_explanation_says_why() -> None:
    CustomerFactory.create(key="vip-1", vip=True, plan="pro")
    ticket = TicketFactory.create(customer_id="vip-1", subject="Question", body="How do I export a report? Thanks.")
    row = classification.classify_ticket(ticket.pk)
    assert row is not None
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert ticket.due_at == ticket.created + timedelta(hours=4)
    explained = row.explanation["customer"]
    assert explained["vip"] is True
    assert explained["changes"][0]["rule"] == "vip_priority_floor"
    assert "VIP customer: priority" in row.reasoning


def test_repeat_contacts_raise_the_risk() -> None:
    _history("rep-1", 2, category="billing")
    ticket = TicketFactory.create(
        customer_id="rep-1", subject="Charged twice", body="Refund the duplicate invoice charge"
    )
    row = classification.classify_ticket(ticket.pk)
    assert row is not None and row.category == "billing"
    [change] = row.explanation["customer"]["changes"]
    assert change["rule"] == "repeat_contact" and change["to"] == pytest.approx(change["from"] + 0.2, abs=0.001)


def test_the_llm_prompt_carries_a_short_masked_context_block(fake_llm: Any) -> None:
    CustomerFactory.create(key="p-1", vip=True, plan="call 555-123-4567")
    _history("p-1", 1, category="billing", sentiment="negative")
    ticket = TicketFactory.create(customer_id="p-1")
    row = classification.classify_ticket(ticket.pk)
    messages = fake_llm.state.last_request["messages"]
    block = json.loads(messages[2]["content"][len("<customer>") : -len("</customer>")])
    assert block["vip"] is True and block["tickets_last_30_days"] == 1
    assert block["last_sentiments"] == ["negative"]
    assert "555-123-4567" not in messages[2]["content"]
    assert "name" not in block and "email" not in json.dumps(block)
    assert row is not None and row.explanation["customer"]["in_prompt"] is True


def test_no_customer_no_context() -> None:
    ticket = TicketFactory.create(customer_id="", customer_email="")
    row = classification.classify_ticket(ticket.pk)
    assert row is not None and "customer" not in row.explanation
    assert not Customer.objects.exists()
