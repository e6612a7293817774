from __future__ import annotations

from typing import Any

from rest_framework import serializers

from classification.taxonomy import category_choices
from events.models import Delivery, DeliveryStatus, EventType, WebhookSubscription


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.MultipleChoiceField(choices=EventType.choices, allow_empty=False)
    categories = serializers.ListField(
        child=serializers.SlugField(max_length=50),
        required=False,
        max_length=100,
        help_text="Only tickets of these categories (slugs; empty: every category).",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=100,
        help_text="Signs each body. Generated when not given; returned once, in the creation's answer.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "name",
            "url",
            "events",
            "categories",
            "secret",
            "active",
            "consecutive_failures",
            "failing_since",
            "disabled_reason",
            "disabled_at",
            "created",
            "updated",
        ]
        read_only_fields = [
            "consecutive_failures",
            "failing_since",
            "disabled_reason",
            "disabled_at",
            "created",
            "updated",
        ]

    def validate_categories(self, slugs: list[str]) -> list[str]:
        unknown = sorted(set(slugs) - {slug for slug, _ in category_choices()})
        if unknown:
            raise serializers.ValidationError(f"Not categories of the taxonomy: {', '.join(unknown)}.")
        return slugs

    def validate_url(self, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http and https URLs.")
        return url

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        for name in ("events", "categories"):
            if name in values:
                values[name] = sorted(set(values[name]))  # JSON lists, in a stable order
        return values

    def to_representation(self, instance: WebhookSubscription) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["events"], data["categories"] = sorted(instance.events), sorted(instance.categories)
        return data


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "response_code",
            "error",
            "latency_ms",
            "next_attempt_at",
            "created",
            "delivered_at",
        ]
        read_only_fields = fields


class RedeliverSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()
