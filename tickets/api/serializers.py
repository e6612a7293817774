from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classification.api.serializers import ClassificationSerializer, OptionsSerializer
from classification.models import Category
from supportintel.serializers import BuiltOnceFieldsMixin
from tickets import workflow
from tickets.models import CURRENT_FIELDS, INPUT_FIELDS, Priority, ResolvedBy, Sentiment, Source, Ticket, WorkState

# One bulk request carries at most this many tickets (and the request body limit bounds its bytes).
BULK_MAX_TICKETS = 1000
# An id no ticket has when the status URL is built (see TicketSerializer._status_url_parts).
_STAND_IN_ID = 987654321987


class TicketCreateSerializer(BuiltOnceFieldsMixin, serializers.ModelSerializer):
    options = OptionsSerializer(required=False, help_text="This ticket's enrichment options.")

    class Meta:
        model = Ticket
        fields = list(INPUT_FIELDS)
        # A re-sent external id is not an error: the service answers with the ticket already received.
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("subject", "").strip() and not attrs.get("body", "").strip():
            raise serializers.ValidationError({"body": ["A ticket needs a subject or a body."]})
        return attrs


class TicketSerializer(BuiltOnceFieldsMixin, serializers.ModelSerializer):
    status_url = serializers.SerializerMethodField()
    # Empty until the ticket is classified (or when the customer declared nothing). Read-only model fields
    # lose `allow_blank`, so these say it again for the schema to admit "".
    declared_priority = serializers.ChoiceField(choices=Priority.choices, allow_blank=True, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, allow_blank=True, read_only=True)
    sentiment = serializers.ChoiceField(choices=Sentiment.choices, allow_blank=True, read_only=True)
    classification_source = serializers.ChoiceField(choices=Source.choices, allow_blank=True, read_only=True)
    resolved_by = serializers.ChoiceField(
        choices=ResolvedBy.choices,
        allow_blank=True,
        read_only=True,
        help_text="specialist or human; empty unless resolved.",
    )
    customer_email = serializers.CharField(read_only=True, help_text="An email address, or empty.")
    assignee: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="The agent's username, or null."
    )
    state_changed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            *(name for name in INPUT_FIELDS if name != "body"),
            *CURRENT_FIELDS,
            "state",
            "state_changed",
            "state_changed_by",
            "resolved_by",
            "assignee",
            "likely_duplicate_of",
            "duplicate_of",
            "created",
            "updated",
            "status_url",
        ]
        read_only_fields = fields

    def get_status_url(self, ticket: Ticket) -> str:
        prefix, suffix = self._status_url_parts()
        return f"{prefix}{ticket.pk}{suffix}"

    def _status_url_parts(self) -> tuple[str, str]:
        # The detail URL is reversed (and made absolute) once per serializer, with a stand-in id that each
        # ticket's own replaces: a bulk answer of 1,000 tickets spent 40 ms in reverse() alone (profiled).
        parts: tuple[str, str] | None = self.__dict__.get("_status_url")
        if parts is None:
            path = reverse("ticket-detail", args=[_STAND_IN_ID])
            request = self.context.get("request")
            url = request.build_absolute_uri(path) if request is not None else path
            prefix, _, suffix = url.rpartition(str(_STAND_IN_ID))
            parts = self.__dict__["_status_url"] = (prefix, suffix)
        return parts


class TicketReceiptSerializer(serializers.ModelSerializer):
    """What a caller who may create tickets but not read them learns about a ticket already received
    under the same channel and external id: that it exists, its id and its status, nothing it holds."""

    class Meta:
        model = Ticket
        fields = ["id", "status"]
        read_only_fields = fields


# The schema of a ticket already received: the ticket for callers with `tickets.view_ticket`, a
# receipt (id and status) for the others.
RECEIVED_TICKET_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"$ref": "#/components/schemas/Ticket"},
        {
            "type": "object",
            "description": "For callers without tickets.view_ticket: only the id and the status.",
            "required": ["id", "status"],
            "properties": {"id": {"type": "integer"}, "status": {"$ref": "#/components/schemas/StatusEnum"}},
        },
    ]
}


@extend_schema_field(RECEIVED_TICKET_SCHEMA)
class ReceivedTicketField(serializers.JSONField):
    """A ticket already received, as TicketSerializer or TicketReceiptSerializer rendered it."""


class BulkResultSerializer(serializers.Serializer):
    """The bulk endpoint's answer (documentation: the view renders it)."""

    created = serializers.IntegerField(help_text="Tickets saved by this request.")
    duplicates = serializers.IntegerField(help_text="Tickets already received under the same channel and external id.")
    tickets = TicketSerializer(many=True, help_text="The tickets saved, queued for classification.")
    duplicate_tickets = serializers.ListField(
        child=ReceivedTicketField(),
        help_text="The tickets already received: in full for callers with tickets.view_ticket, "
        "otherwise only their id and status.",
    )


class TicketDetailSerializer(TicketSerializer):
    classifications = ClassificationSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "body", "classifications"]
        read_only_fields = fields


class BulkTicketSerializer(serializers.Serializer):
    tickets: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TicketCreateSerializer(), allow_empty=False, max_length=BULK_MAX_TICKETS
    )


class ReclassifySerializer(serializers.Serializer):
    force = serializers.BooleanField(
        default=False, help_text="Also overwrite a human correction (it is kept in the history)."
    )


class StateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=WorkState.choices, help_text="open, pending or resolved; a resolved ticket can only be reopened."
    )


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True,
        max_length=150,
        help_text="The username of an agent who may change tickets, or null to unassign.",
    )

    def validate_assignee(self, value: str | None) -> Any:
        if value is None:
            return None
        user = workflow.agents().filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"No active agent {value!r} who may change tickets.")
        return user


class CorrectionSerializer(serializers.Serializer):
    category = serializers.SlugField(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    sentiment = serializers.ChoiceField(choices=Sentiment.choices, required=False)
    team = serializers.CharField(max_length=50, required=False)

    def validate_category(self, value: str) -> str:
        if not Category.objects.filter(slug=value, active=True).exists():
            raise serializers.ValidationError(f"Unknown or inactive category {value!r}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give at least one of category, priority, sentiment, team.")
        ticket: Ticket = self.context["ticket"]
        if "category" not in attrs and not Category.objects.filter(slug=ticket.category).exists():
            # Not classified yet, or its category has left the taxonomy: nothing to keep or route by.
            raise serializers.ValidationError({"category": ["This ticket has no category to keep; give one."]})
        return attrs
