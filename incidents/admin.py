from __future__ import annotations

from django.contrib import admin

from incidents.models import Incident, IncidentTicket


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
    # Opened and grown by the workers; agents close and reopen (here, on the dashboard or through the API).
    readonly_fields = (
        "title",
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
