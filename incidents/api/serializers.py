from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from incidents import services
from incidents.models import Incident
from tickets.models import Ticket


class SimilarTicketSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="ticket.pk")
    subject = serializers.CharField(source="ticket.subject")
    status = serializers.CharField(source="ticket.status")
    category = serializers.CharField(source="ticket.category")
    created = serializers.DateTimeField(source="ticket.created")
    score = serializers.FloatField(help_text="Similarity, 0 to 1 (character n-gram TF-IDF cosine).")
    same_customer = serializers.BooleanField()
    url = serializers.SerializerMethodField()

    def get_url(self, found: services.Found) -> str:
        path = reverse("ticket-detail", args=[found.ticket.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class DuplicateSerializer(serializers.Serializer[Any]):
    duplicate_of = serializers.PrimaryKeyRelatedField(
        queryset=Ticket.objects.only("pk", "duplicate_of"),
        allow_null=True,
        help_text="The ticket this one duplicates (null: not a duplicate after all).",
    )


class IncidentSerializer(serializers.ModelSerializer[Incident]):
    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "status",
            "first_seen",
            "last_seen",
            "ticket_count",
            "customer_count",
            "shared_terms",
            "entities",
            "closed_at",
            "created",
        ]
        read_only_fields = fields


class IncidentTicketSerializer(serializers.ModelSerializer[Ticket]):
    class Meta:
        model = Ticket
        fields = ["id", "subject", "status", "category", "priority", "customer_email", "customer_id", "created"]
        read_only_fields = fields


class GrowthSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    tickets = serializers.IntegerField()


class IncidentDetailSerializer(IncidentSerializer):
    tickets = serializers.SerializerMethodField()
    growth = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "tickets", "growth"]
        read_only_fields = fields

    def get_tickets(self, incident: Incident) -> list[dict[str, Any]]:
        tickets = Ticket.objects.filter(incident_link__incident=incident).order_by("created", "pk")
        return list(IncidentTicketSerializer(tickets, many=True).data)

    def get_growth(self, incident: Incident) -> list[dict[str, Any]]:
        return list(GrowthSerializer(services.growth(incident), many=True).data)
