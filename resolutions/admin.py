from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from resolutions.models import Draft, Specialist


@admin.register(Specialist)
class SpecialistAdmin(admin.ModelAdmin):
    list_display = ["category", "model_name", "active", "updated"]
    list_filter = ["active"]
    search_fields = ["category__slug", "category__name", "instructions"]
    readonly_fields = ["created", "updated"]


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    """Drafts are written by the worker and decided by agents on the ticket's page or the API: read-only here."""

    list_display = ["ticket", "category", "status", "source", "can_close", "decided_by", "created"]
    list_filter = ["status", "source", "category"]
    raw_id_fields = ["ticket", "classification"]
    list_select_related = ["ticket", "decided_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
