from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only: the audit log is append-only, for everyone, superusers included."""

    list_display = ("created", "actor_name", "action", "target", "ip")
    # By user (any account; a failed login for a name no one has is found with the search box), action, time.
    list_filter = ("actor", "action", "created")
    search_fields = ("actor_name", "target")
    date_hierarchy = "created"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
