from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from incidents import services
from incidents.models import Incident, IncidentStatus, IncidentTicket
from tickets.admin import TicketAdmin
from tickets.models import Ticket

# The ticket's admin, with its `duplicate_of` field saved through the same service as the dashboard and the API
# (linked to the original's original, audited). Registered here, not in tickets/admin.py: tickets imports
# nothing from the apps above it.
admin.site.unregister(Ticket)


@admin.register(Ticket)
class TicketWithDuplicatesAdmin(TicketAdmin):
    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        if not change or "duplicate_of" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        wanted = obj.duplicate_of
        obj.duplicate_of_id = Ticket.objects.filter(pk=obj.pk).values_list("duplicate_of_id", flat=True).first()
        super().save_model(request, obj, form, change)  # the other fields; the link is the service's
        if wanted is None:
            services.clear_duplicate(obj, actor=request.user, via="admin", request=request)
            return
        try:
            services.confirm_duplicate(obj, wanted, actor=request.user, via="admin", request=request)
        except services.DuplicateRefused as exc:
            self.message_user(request, f"Not linked: {exc}.", messages.ERROR)


class IncidentTicketInline(admin.TabularInline):
    model = IncidentTicket
    extra = 0
    fields = ("ticket", "customer", "joined")
    readonly_fields = fields
    can_delete = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "ticket_count", "customer_count", "first_seen", "last_seen")
    list_filter = ("status",)
    search_fields = ("title",)
    # Opened and grown by the workers; agents close and reopen (here by the actions below, on the dashboard or
    # through the API), never by editing the status.
    readonly_fields = (
        "title",
        "status",
        "first_seen",
        "last_seen",
        "ticket_count",
        "customer_count",
        "shared_terms",
        "entities",
        "closed_at",
        "closed_by",
        "created",
    )
    inlines = (IncidentTicketInline,)
    actions = ("close_incidents", "reopen_incidents")

    def _set_status(self, request: HttpRequest, queryset: Any, status: str) -> None:
        for incident in queryset:
            services.set_incident_status(incident, status, request.user, via="admin", request=request)
        self.message_user(request, f"{len(queryset)} incidents {status}.", messages.SUCCESS)

    # Through the service, never by editing `status`: closed_at, closed_by and the audit log follow.
    @admin.action(description="Close selected incidents", permissions=["change"])
    def close_incidents(self, request: HttpRequest, queryset: Any) -> None:
        self._set_status(request, queryset, IncidentStatus.CLOSED)

    @admin.action(description="Reopen selected incidents", permissions=["change"])
    def reopen_incidents(self, request: HttpRequest, queryset: Any) -> None:
        self._set_status(request, queryset, IncidentStatus.OPEN)
