from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from workers.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Which Celery workers are running; rows are written by the workers themselves."""

    list_display = ("hostname", "pid", "started_at", "seen_at")
    ordering = ("-seen_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkerHeartbeat | None = None) -> bool:
        return False
