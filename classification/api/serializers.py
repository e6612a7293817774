from __future__ import annotations

from typing import Any

from rest_framework import serializers

from classification.models import Category, Classification, FallbackReason


class ClassificationSerializer(serializers.ModelSerializer):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who corrected it (human rows)."
    )
    # Read-only model fields lose `allow_blank`; said again so the schema admits "" (an LLM or human row).
    fallback_reason = serializers.ChoiceField(choices=FallbackReason.choices, allow_blank=True, read_only=True)

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
            "team",
            "entities",
            "confidence",
            "matched_keywords",
            "explanation",
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
        fields = ["slug", "name", "description", "team", "active"]
        read_only_fields = fields


class BreakerSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["closed", "open", "half-open"])
    fail_counter = serializers.IntegerField()
    fail_max = serializers.IntegerField()
    reset_timeout_seconds = serializers.FloatField()
    opened_at = serializers.DateTimeField(allow_null=True)
    next_trial_at = serializers.DateTimeField(allow_null=True)
    storage = serializers.CharField()
    llm_configured = serializers.BooleanField()
