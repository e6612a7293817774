"""The contract: one JSON Schema per event type, for `schema_version` SCHEMA_VERSION. Published at
`GET /api/v1/webhooks/schemas/` and in docs/events/ (`manage.py export_event_schemas`); the contract tests
validate every event the suite emits against them, and check the ticket's schema names every field the
API's TicketSerializer renders."""

from __future__ import annotations

from typing import Any

from events.models import SCHEMA_VERSION, EventType
from tickets.models import Source

_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_NUM_OR_NULL = {"type": ["number", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

# The ticket as the API shows it (tickets.api.serializers.TicketSerializer), at the time the event was relayed.
TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "subject", "status", "category", "priority", "sentiment", "state", "created", "updated"],
    "properties": {
        "id": {"type": "integer"},
        "subject": _STR,
        "channel": {"enum": ["email", "chat", "phone", "web", "api"]},
        "customer_email": _STR,
        "customer_name": _STR,
        "customer_id": _STR,
        "declared_priority": {"enum": ["", "critical", "high", "medium", "low"]},
        "external_id": _STR,
        "options": {"type": "object"},
        "status": {"enum": ["queued", "processing", "classified", "failed"]},
        "category": _STR,
        "priority": {"enum": ["", "critical", "high", "medium", "low"]},
        "sentiment": {"enum": ["", "negative", "neutral", "positive"]},
        "risk": _NUM_OR_NULL,
        "team": _STR,
        "confidence": _NUM_OR_NULL,
        "classification_source": {"enum": ["", *Source.values]},
        "fallback_reason": _STR,
        "summary": _STR,
        "missing_info": {"type": "array", "items": _STR},
        "classified_at": _TIME_OR_NULL,
        "due_at": _TIME_OR_NULL,
        "attempts": {"type": "integer"},
        "last_error": _STR,
        "state": {"enum": ["open", "pending", "resolved"]},
        "state_changed": _TIME_OR_NULL,
        "state_changed_by": _STR_OR_NULL,
        "resolved_by": {"enum": ["", "specialist", "human"]},
        "assignee": _STR_OR_NULL,
        "created": _TIME,
        "updated": _TIME,
        "status_url": _STR,
        "likely_duplicate_of": {"type": ["integer", "null"]},
        "duplicate_of": {"type": ["integer", "null"]},
    },
}

_CLASSIFICATION = {
    "type": "object",
    "required": ["source", "category", "priority", "sentiment", "risk", "team", "confidence"],
    "properties": {
        "source": {"enum": list(Source.values)},
        "category": _STR,
        "priority": {"enum": ["critical", "high", "medium", "low"]},
        "sentiment": {"enum": ["negative", "neutral", "positive"]},
        "risk": {"type": "number"},
        "team": _STR,
        "confidence": {"type": "number"},
        "fallback_reason": _STR,
        "customer_rules": {"type": "array", "items": _STR},
        "summary": _STR,
        "secondary_categories": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["category", "confidence"],
                "properties": {"category": _STR, "confidence": {"type": "number"}},
            },
        },
        "urgency_indicators": {"type": "array", "items": _STR},
        "reasoning": _STR,
        "missing_info": {"type": "array", "items": _STR},
    },
}

# What each type carries in `data` beside the ticket.
DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    EventType.TICKET_CREATED: {},
    EventType.TICKET_CLASSIFIED: {"classification": _CLASSIFICATION},
    EventType.TICKET_CORRECTED: {
        "classification": _CLASSIFICATION,
        "author": _STR_OR_NULL,
        "replaced_category": _STR,
    },
    EventType.TICKET_RESOLVED: {"resolved_by": _STR_OR_NULL},
}


def event_schema(event_type: str) -> dict[str, Any]:
    extra = DATA_SCHEMAS[event_type]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://supportintel.example/schemas/events/{event_type}/v{SCHEMA_VERSION}.json",
        "title": f"{event_type} (schema_version {SCHEMA_VERSION})",
        "type": "object",
        "required": ["id", "type", "time", "schema_version", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The same for every attempt: deduplicate on it."},
            "type": {"const": event_type},
            "time": {**_TIME, "description": "When the change was committed."},
            "schema_version": {"const": SCHEMA_VERSION},
            "data": {
                "type": "object",
                "required": ["ticket", *extra],
                "properties": {"ticket": {"anyOf": [TICKET_SCHEMA, {"type": "null"}]}, **extra},
            },
        },
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: event_schema(event_type) for event_type in DATA_SCHEMAS}
