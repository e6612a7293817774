"""Every change writes its outbox row in its own transaction."""

from __future__ import annotations

from typing import Any

import pytest

from classification import services as classification
from events.models import Event, EventType
from tickets import services, workflow
from tickets.models import WorkState
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_creating_a_ticket_writes_ticket_created() -> None:
    ticket, _ = services.create_ticket({"subject": "Cannot log in", "body": "help"})
    event = Event.objects.get(ticket=ticket)
    assert event.type == EventType.TICKET_CREATED
    assert event.created == ticket.created


def test_a_resent_external_id_writes_no_second_event() -> None:
    services.create_ticket({"subject": "a", "external_id": "x-1"})
    services.create_ticket({"subject": "a", "external_id": "x-1"})
    assert Event.objects.filter(type=EventType.TICKET_CREATED).count() == 1


def test_bulk_creation_writes_one_event_per_new_ticket() -> None:
    created, _ = services.create_tickets_bulk([{"subject": f"t{i}"} for i in range(3)])
    assert sorted(Event.objects.values_list("ticket_id", flat=True)) == sorted(t.pk for t in created)


def test_classifying_writes_ticket_classified_with_the_classification() -> None:
    ticket = TicketFactory.create(subject="I was charged twice", body="Refund my invoice please")
    classification.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    event = Event.objects.get(type=EventType.TICKET_CLASSIFIED)
    assert event.ticket_id == ticket.pk
    assert event.detail["classification"]["category"] == ticket.category
    assert event.detail["classification"]["source"] == "keyword"


def test_the_classified_event_carries_the_richer_answer() -> None:
    ticket = TicketFactory.create(
        subject="Refund and login problem",
        body="I was charged twice and want a refund. Also I cannot log in, the password reset fails. Urgent!",
    )
    classification.classify_ticket(ticket.pk)
    sent = Event.objects.get(type=EventType.TICKET_CLASSIFIED).detail["classification"]
    stored = ticket.classifications.latest("created")
    assert sent["secondary_categories"] == [
        {"category": e["category"], "confidence": e["confidence"]} for e in stored.secondary_categories
    ]
    assert [e["category"] for e in sent["secondary_categories"]] == ["account"]
    assert "urgent" in sent["urgency_indicators"] and sent["reasoning"] == stored.reasoning != ""
    assert sent["missing_info"] == stored.missing_info == ["order_id"] and sent["summary"] == stored.summary


def test_a_second_run_of_the_task_writes_no_second_event() -> None:
    ticket = TicketFactory.create()
    classification.classify_ticket(ticket.pk)
    classification.classify_ticket(ticket.pk)
    assert Event.objects.filter(type=EventType.TICKET_CLASSIFIED).count() == 1


def test_a_correction_writes_ticket_corrected_with_its_author(agent: Any) -> None:
    ticket = TicketFactory.create(classified=True)
    classification.record_correction(ticket, agent, {"category": "billing"})
    event = Event.objects.get(type=EventType.TICKET_CORRECTED)
    assert (event.detail["author"], event.detail["classification"]["category"]) == ("agent", "billing")
    assert event.detail["replaced_category"] == "general"


def test_resolving_writes_ticket_resolved_and_reopening_does_not(agent: Any) -> None:
    ticket = TicketFactory.create(classified=True)
    workflow.change_state([ticket.pk], WorkState.RESOLVED, actor=agent)
    workflow.change_state([ticket.pk], WorkState.OPEN, actor=agent)
    assert list(Event.objects.values_list("type", "detail")) == [("ticket.resolved", {"resolved_by": "agent"})]


def test_a_ticket_stored_by_the_process_endpoint_writes_created_and_classified() -> None:
    from classification import triage

    answer = triage.triage({"subject": "Refund", "body": "I was charged twice"})
    ticket, created = triage.store({"subject": "Refund", "body": "I was charged twice"}, answer.outcome)
    assert created
    rows = list(Event.objects.filter(ticket=ticket).order_by("type").values_list("type", flat=True))
    assert rows == ["ticket.classified", "ticket.created"]
