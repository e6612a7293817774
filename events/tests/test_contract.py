"""The contract: every event the flows emit validates against its published JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings

from classification import services as classification
from events import schemas, services
from events.management.commands.export_event_schemas import render
from events.models import Event, EventType
from events.tests.factories import WebhookSubscriptionFactory
from tickets import services as tickets
from tickets import workflow
from tickets.api.serializers import TicketSerializer
from tickets.models import WorkState

pytestmark = pytest.mark.django_db


def _emit_every_type(agent: Any) -> list[Event]:
    WebhookSubscriptionFactory.create()
    ticket, _ = tickets.create_ticket({"subject": "Refund", "body": "I was charged twice", "customer_id": "c-1"})
    classification.classify_ticket(ticket.pk)
    classification.record_correction(ticket, agent, {"category": "billing", "priority": "high"})
    workflow.change_state([ticket.pk], WorkState.RESOLVED, actor=agent)
    services.relay_events()
    return list(Event.objects.order_by("created", "type"))


def test_every_emitted_event_validates_against_its_schema(agent: Any) -> None:
    events = _emit_every_type(agent)
    assert {e.type for e in events} == set(EventType.values)
    for event in events:
        assert event.payload is not None
        jsonschema.Draft202012Validator(schemas.event_schema(event.type)).validate(event.payload)
        assert event.payload["schema_version"] == 1


def test_an_event_whose_ticket_was_deleted_still_validates(agent: Any) -> None:
    WebhookSubscriptionFactory.create()
    ticket, _ = tickets.create_ticket({"subject": "gone"})
    ticket.delete()
    services.relay_events()
    event = Event.objects.get()
    assert event.payload is not None and event.payload["data"]["ticket"] is None
    jsonschema.Draft202012Validator(schemas.event_schema(event.type)).validate(event.payload)


def test_the_ticket_schema_names_every_field_the_api_renders() -> None:
    assert set(schemas.TICKET_SCHEMA["properties"]) == set(TicketSerializer().fields)


def test_the_schemas_in_docs_are_the_published_ones() -> None:
    folder = Path(settings.BASE_DIR) / "docs" / "events"
    for event_type, schema in schemas.all_schemas().items():
        assert (folder / f"{event_type}.schema.json").read_text() == render(schema), (
            "run: manage.py export_event_schemas"
        )


def test_every_event_type_has_a_schema() -> None:
    assert set(schemas.DATA_SCHEMAS) == set(EventType.values)
