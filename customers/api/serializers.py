from __future__ import annotations

from typing import Any

from rest_framework import serializers

from customers.context import CustomerContext
from customers.models import Customer
from customers.services import BULK_MAX


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "key",
            "external_id",
            "email",
            "name",
            "organisation",
            "plan",
            "vip",
            "attributes",
            "created",
            "updated",
        ]
        read_only_fields = ["key", "created", "updated"]

    def validate_attributes(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("A JSON object.")
        return value


class RecentTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    subject = serializers.CharField()
    category = serializers.CharField()
    sentiment = serializers.CharField()
    priority = serializers.CharField()
    created = serializers.DateTimeField()


class ContextSerializer(serializers.Serializer):
    tickets_30d = serializers.IntegerField()
    tickets_90d = serializers.IntegerField()
    open_tickets = serializers.IntegerField()
    escalations = serializers.IntegerField()
    sentiment_trend = serializers.CharField(source="trend")
    categories_30d = serializers.DictField(child=serializers.IntegerField())
    recent_tickets = RecentTicketSerializer(source="recent", many=True)


class CustomerDetailSerializer(CustomerSerializer):
    """A customer with `context`: what the classification reads of them, computed now (the serializer's own
    `context` attribute is DRF's, so the key is added in to_representation)."""

    def to_representation(self, instance: Customer) -> dict[str, Any]:
        data = super().to_representation(instance)
        found: CustomerContext = self.context["customer_context"]
        data["context"] = dict(ContextSerializer(found).data)
        return data


class CustomerRowSerializer(CustomerSerializer):
    """One row of a bulk request: the key is given in the row."""

    key = serializers.CharField(max_length=254)

    class Meta(CustomerSerializer.Meta):
        read_only_fields = ["created", "updated"]


class CustomerBulkSerializer(serializers.Serializer):
    customers = CustomerRowSerializer(many=True, allow_empty=False, max_length=BULK_MAX)  # type: ignore[call-arg]  # ListSerializer takes it


class CustomerBulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
