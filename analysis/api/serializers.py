from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from analysis.models import AnalysisRun


class AnalysisRunSerializer(serializers.ModelSerializer[AnalysisRun]):
    started_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    status_url = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "status",
            "first_day",
            "last_day",
            "filters",
            "trigger",
            "started_by",
            "total",
            "processed",
            "percent",
            "error",
            "created",
            "started",
            "finished",
            "status_url",
            "downloads",
        ]
        read_only_fields = fields

    def _url(self, name: str, run: AnalysisRun) -> str:
        path = reverse(name, args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_status_url(self, run: AnalysisRun) -> str:
        return self._url("analysis-detail", run)

    def get_downloads(self, run: AnalysisRun) -> dict[str, str]:
        return {"markdown": self._url("analysis-report", run), "csv": self._url("analysis-themes", run)}


class AnalysisRunDetailSerializer(AnalysisRunSerializer):
    class Meta(AnalysisRunSerializer.Meta):
        fields = [*AnalysisRunSerializer.Meta.fields, "summary", "results"]
        read_only_fields = fields


class AnalysisRunCreateSerializer(serializers.Serializer[Any]):
    """A new run; without dates, the seven days before today (with an incident: the incident's days)."""

    first_day = serializers.DateField(required=False)
    last_day = serializers.DateField(required=False)
    category = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.CharField(required=False, allow_blank=True)
    channel = serializers.CharField(required=False, allow_blank=True)
    incident = serializers.CharField(required=False, allow_blank=True, help_text="Only with the incidents app.")
