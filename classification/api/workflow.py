"""The synchronous workflow endpoints: `/api/v1/workflow/classify/`, `/extract/`, `/respond/`, `/route/` and
`/process/` answer now, within WORKFLOW_TIMEOUT_SECONDS, and store nothing (unless `/process/` is asked to
store the ticket). Each runs the worker's chain (classification.triage) and says which classifier answered
and why. Throttled apart from ticket creation (scope `workflow`)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from classification import llm, triage
from classification.api.serializers import OptionsSerializer
from classification.llm import ENTITY_KEYS
from classification.models import FallbackReason, ReplyTone
from classification.taxonomy import active_category_choices
from supportintel.throttling import FailOpenScopedRateThrottle
from tickets.models import Channel, Priority, Sentiment, Source


class CanTriage(BasePermission):
    """Whoever may create tickets (an integration token) or read them (an agent) may triage a text."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perm("tickets.add_ticket") or user.has_perm("tickets.view_ticket")


# ---- requests ----


class TextSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    declared_priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_blank=True)
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_email = serializers.EmailField(required=False, allow_blank=True)
    options = OptionsSerializer(required=False, help_text="The reply's tone; switch the reply or extraction off.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("subject", "").strip() and not attrs.get("body", "").strip():
            raise serializers.ValidationError({"body": ["A subject or a body is needed."]})
        return attrs


class EntitiesField(serializers.DictField):
    child = serializers.ListField(child=serializers.CharField(max_length=200), max_length=10)

    def to_internal_value(self, data: Any) -> dict[str, list[str]]:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(ENTITY_KEYS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown entity kinds: {', '.join(unknown)}. Known: {', '.join(ENTITY_KEYS)}."
            )
        return value


class GivenTextSerializer(TextSerializer):
    """For respond and route: what the caller already knows, kept as it is."""

    category = serializers.CharField(
        max_length=50, required=False, help_text="An active category's slug (GET /api/v1/categories/)."
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    entities = EntitiesField(required=False, help_text="Entities already extracted, by kind (order_ids, …).")

    def validate_category(self, value: str) -> str:
        if value not in dict(active_category_choices()):
            raise serializers.ValidationError(f"{value!r} is not an active category.")
        return value


class ProcessSerializer(TextSerializer):
    store = serializers.BooleanField(
        default=False,
        help_text="true: also create the ticket, already classified with this answer (needs tickets.add_ticket).",
    )
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    customer_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)


# ---- answers ----


class ClassifierSerializer(serializers.Serializer):
    """Which classifier answered, and why not the LLM."""

    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]  # a field, not Field.source
    fallback_reason = serializers.ChoiceField(choices=FallbackReason.choices, allow_blank=True)
    fallback_detail = serializers.CharField(allow_blank=True)
    model_name = serializers.CharField(allow_blank=True)
    elapsed_ms = serializers.IntegerField(help_text="How long this request waited for the answer.")


class ScoredCategorySerializer(serializers.Serializer):
    category = serializers.CharField()
    confidence = serializers.FloatField()


class RouteOptionSerializer(ScoredCategorySerializer):
    team = serializers.CharField()


class ClassifyAnswerSerializer(ClassifierSerializer):
    category = serializers.CharField()
    priority = serializers.ChoiceField(choices=Priority.choices)
    sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    risk = serializers.FloatField()
    confidence = serializers.FloatField()
    secondary_categories = ScoredCategorySerializer(many=True)
    urgency_indicators = serializers.ListField(child=serializers.CharField())
    reasoning = serializers.CharField(allow_blank=True)


class ExtractAnswerSerializer(ClassifierSerializer):
    category = serializers.CharField()
    entities = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    missing_info = serializers.ListField(
        child=serializers.CharField(), help_text="Required information of the category the text does not give."
    )


class RespondAnswerSerializer(ClassifierSerializer):
    category = serializers.CharField()
    summary = serializers.CharField(allow_blank=True)
    suggested_reply = serializers.CharField(allow_blank=True, help_text="Empty when replies are switched off.")
    reply_tone = serializers.ChoiceField(choices=ReplyTone.choices, allow_blank=True)
    missing_info = serializers.ListField(child=serializers.CharField())


class RouteAnswerSerializer(ClassifierSerializer):
    category = serializers.CharField()
    priority = serializers.ChoiceField(choices=Priority.choices)
    team = serializers.CharField()
    routing_alternatives = RouteOptionSerializer(many=True)


class ProcessAnswerSerializer(
    ClassifyAnswerSerializer, ExtractAnswerSerializer, RespondAnswerSerializer, RouteAnswerSerializer
):
    summary = serializers.CharField(allow_blank=True)
    ticket_id = serializers.IntegerField(allow_null=True, help_text="The stored ticket (store: true), else null.")
    ticket_url = serializers.CharField(allow_null=True)
    created = serializers.BooleanField(
        allow_null=True, help_text="false: a ticket with this channel and external id was already stored."
    )


def _answer(answer: triage.Answer, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    return dict(serializer({**vars(answer.outcome), "elapsed_ms": answer.elapsed_ms}).data)


def _given(data: dict[str, Any]) -> llm.Given:
    return llm.Given(
        category=data.get("category", ""), priority=data.get("priority", ""), entities=data.get("entities", {})
    )


class WorkflowViewSet(viewsets.ViewSet):
    """Triage a text now (nothing stored unless /process/ says `store: true`): the worker's chain (the LLM
    through its breaker, then the fallbacks) within WORKFLOW_TIMEOUT_SECONDS; past it the keyword rules
    answer with reason `timeout`. Every answer says which classifier answered (`source`) and why not the LLM
    (`fallback_reason`)."""

    permission_classes = [CanTriage]
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "workflow"

    def _run(
        self, request: Request, serializer_class: type[serializers.Serializer]
    ) -> tuple[dict[str, Any], triage.Answer]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        return data, triage.triage(data, _given(data))

    @extend_schema(request=TextSerializer, responses=ClassifyAnswerSerializer)
    @action(detail=False, methods=["post"])
    def classify(self, request: Request) -> Response:
        """Category, priority, sentiment, risk and confidence, with secondary categories, urgency indicators
        and one sentence of reasoning."""
        _, answer = self._run(request, TextSerializer)
        return Response(_answer(answer, ClassifyAnswerSerializer))

    @extend_schema(request=TextSerializer, responses=ExtractAnswerSerializer)
    @action(detail=False, methods=["post"])
    def extract(self, request: Request) -> Response:
        """Entities (order ids, error codes, emails, phones, amounts, URLs) and the category's required
        information the text does not give."""
        _, answer = self._run(request, TextSerializer)
        return Response(_answer(answer, ExtractAnswerSerializer))

    @extend_schema(request=GivenTextSerializer, responses=RespondAnswerSerializer)
    @action(detail=False, methods=["post"])
    def respond(self, request: Request) -> Response:
        """A suggested reply in the requested (or the category's) tone, asking for missing information.
        A category, priority or entities the caller gives are kept as given."""
        _, answer = self._run(request, GivenTextSerializer)
        return Response(_answer(answer, RespondAnswerSerializer))

    @extend_schema(request=GivenTextSerializer, responses=RouteAnswerSerializer)
    @action(detail=False, methods=["post"])
    def route(self, request: Request) -> Response:
        """The team (the category's, or escalation for a critical ticket) and the alternatives with their
        confidences. A category or priority the caller gives is kept as given."""
        _, answer = self._run(request, GivenTextSerializer)
        return Response(_answer(answer, RouteAnswerSerializer))

    @extend_schema(
        request=ProcessSerializer,
        responses={
            200: ProcessAnswerSerializer,
            201: OpenApiResponse(ProcessAnswerSerializer, description="store: true, and the ticket was created."),
        },
    )
    @action(detail=False, methods=["post"])
    def process(self, request: Request) -> Response:
        """All four at once; with `store: true` the ticket is also created, already classified with this
        answer (no task queued), or the one stored before under the same channel and external id is named."""
        serializer = ProcessSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data["store"] and not request.user.has_perm("tickets.add_ticket"):
            self.permission_denied(request, message="Storing the ticket needs the tickets.add_ticket permission.")
        answer = triage.triage(data, llm.Given())
        result = {**_answer(answer, ProcessAnswerSerializer), "ticket_id": None, "ticket_url": None, "created": None}
        if not data["store"]:
            return Response(result)
        ticket, created = triage.store(data, answer.outcome)
        url = request.build_absolute_uri(reverse("ticket-detail", args=[ticket.pk]))
        result.update(ticket_id=ticket.pk, ticket_url=url, created=created)
        return Response(result, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
