from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from classification.models import Category, Citation, Classification, FallbackReason, ReplyTone, TripReason


class OptionsSerializer(serializers.Serializer):
    """What a caller may ask of one enrichment. The deployment's switches (REPLY_GENERATION,
    ENTITY_EXTRACTION) win: a request can turn a reply or extraction off for itself, never back on."""

    tone = serializers.ChoiceField(
        choices=ReplyTone.choices, required=False, help_text="The reply's tone; default: the category's own."
    )
    reply = serializers.BooleanField(required=False, help_text="false: draft no suggested reply.")
    extract = serializers.BooleanField(required=False, help_text="false: extract no entities.")


class CitationSerializer(serializers.ModelSerializer):
    """A knowledge-base source the suggested reply cites (one of the chunks retrieved for the ticket)."""

    article_url = serializers.SerializerMethodField(help_text="The article in the API; null once it is deleted.")

    class Meta:
        model = Citation
        fields = ["rank", "article", "article_url", "chunk", "title", "heading", "page", "score", "excerpt"]
        read_only_fields = fields

    def get_article_url(self, citation: Citation) -> str | None:
        if citation.article_id is None:
            return None
        path = reverse("kb-article-detail", args=[citation.article_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ClassificationSerializer(serializers.ModelSerializer):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who corrected it (human rows)."
    )
    # Read-only model fields lose `allow_blank`; said again so the schema admits "" (an LLM or human row).
    fallback_reason = serializers.ChoiceField(choices=FallbackReason.choices, allow_blank=True, read_only=True)
    citations = CitationSerializer(
        many=True, read_only=True, help_text="The knowledge-base sources the suggested reply cites, in order."
    )

    class Meta:
        model = Classification
        fields = [
            "id",
            "source",
            "category",
            "priority",
            "sentiment",
            "risk",
            "summary",
            "suggested_reply",
            "citations",
            "team",
            "entities",
            "confidence",
            "matched_keywords",
            "explanation",
            "secondary_categories",
            "urgency_indicators",
            "reasoning",
            "routing_alternatives",
            "missing_info",
            "reply_tone",
            "fallback_reason",
            "fallback_detail",
            "model_name",
            "prompt_version",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "author",
            "created",
        ]
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "description", "team", "required_info", "reply_tone", "active"]
        read_only_fields = fields


class BreakerWindowSerializer(serializers.Serializer):
    """The breaker's sliding window: its calls of the last `seconds`, and the thresholds they are held to."""

    seconds = serializers.IntegerField()
    calls = serializers.IntegerField()
    failures = serializers.IntegerField()
    slow_calls = serializers.IntegerField(help_text="Calls slower than slow_call_seconds, successful ones too.")
    failure_rate = serializers.FloatField(allow_null=True, help_text="Percent of the calls; null without calls.")
    slow_call_rate = serializers.FloatField(allow_null=True, help_text="Percent of the calls; null without calls.")
    min_calls = serializers.IntegerField(help_text="No rate trips the breaker before the window holds this many.")
    failure_rate_threshold = serializers.FloatField(help_text="Percent; a failure rate over it opens (0: off).")
    slow_call_rate_threshold = serializers.FloatField(help_text="Percent; a slow-call rate over it opens (0: off).")
    slow_call_seconds = serializers.FloatField()


BREAKER_STATES = ["closed", "open", "half-open"]


class _BreakerStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=BREAKER_STATES)
    trip_reason = serializers.ChoiceField(
        choices=TripReason.choices,
        allow_null=True,
        help_text="Which condition opened it (null while closed).",
    )
    fail_counter = serializers.IntegerField(help_text="Consecutive failures.")
    fail_max = serializers.IntegerField()
    reset_timeout_seconds = serializers.FloatField()
    opened_at = serializers.DateTimeField(allow_null=True)
    next_trial_at = serializers.DateTimeField(allow_null=True)
    window = BreakerWindowSerializer()
    storage = serializers.CharField()
    model = serializers.CharField()


class FallbackBreakerSerializer(_BreakerStateSerializer):
    """The fallback model's own breaker."""


class BreakerSerializer(_BreakerStateSerializer):
    llm_configured = serializers.BooleanField()
    fallback = FallbackBreakerSerializer(allow_null=True, help_text="The fallback model's breaker (null: none).")
