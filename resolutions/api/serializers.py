from __future__ import annotations

from typing import Any

from rest_framework import serializers

from resolutions.models import Draft


class DraftCitationSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="The source's number, as the reply cites it: [n].")
    article_id = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    rank = serializers.IntegerField(help_text="Its rank among the chunks retrieved for the ticket.")
    title = serializers.CharField()
    heading = serializers.CharField(allow_blank=True)
    page = serializers.IntegerField(allow_null=True)


class DraftSerializer(serializers.ModelSerializer):
    steps = serializers.ListField(child=serializers.CharField())
    citations = DraftCitationSerializer(many=True)
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    changes = serializers.DictField(
        child=serializers.DictField(), help_text="What the agent changed before accepting: {field: {old, new}}."
    )

    class Meta:
        model = Draft
        fields = [
            "id",
            "ticket",
            "classification",
            "category",
            "status",
            "source",
            "fallback_reason",
            "diagnosis",
            "steps",
            "reply",
            "can_close",
            "citations",
            "model_name",
            "prompt_version",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "decided_by",
            "decided_at",
            "changes",
            "note",
            "created",
        ]
        read_only_fields = fields


class AcceptSerializer(serializers.Serializer):
    """Accept the draft as written (an empty body), or with edits: any of diagnosis, steps, reply."""

    diagnosis = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    steps = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=20)
    reply = serializers.CharField(required=False, allow_blank=False, max_length=6000)


class RejectSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
