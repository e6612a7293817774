from __future__ import annotations

from django.contrib import admin

from analysis.models import AnalysisRun


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    list_display = ["id", "first_day", "last_day", "status", "trigger", "processed", "total", "created"]
    list_filter = ["status", "trigger"]
    readonly_fields = ["results", "summary", "reduce_claimed", "started", "finished"]
