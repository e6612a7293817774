from __future__ import annotations

from typing import cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from tickets import services
from tickets.models import CURRENT_FIELDS, AgentProfile, SavedView, Ticket, TicketChange


class TicketChangeInline(admin.TabularInline):
    """Who changed the ticket's working state or assignee: history, read-only."""

    model = TicketChange
    fields = ("created", "author", "field", "old_value", "new_value")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subject",
        "state",
        "assignee",
        "status",
        "category",
        "priority",
        "sentiment",
        "risk",
        "team",
        "classification_source",
        "channel",
        "created",
    )
    list_filter = ("state", "status", "category", "priority", "sentiment", "classification_source", "channel", "team")
    list_select_related = ("assignee",)
    inlines = (TicketChangeInline,)
    search_fields = ("subject", "external_id", "customer_email", "customer_name")
    date_hierarchy = "created"
    show_full_result_count = False  # no COUNT(*) over a million rows on every page
    # The working side changes through the dashboard and the API (with its history and audit), not by
    # editing the row here.
    readonly_fields = (
        "status_changed",
        *CURRENT_FIELDS,
        "first_classified_at",
        "state",
        "state_changed",
        "state_changed_by",
        "assignee",
        "likely_duplicate_of",
        "created",
        "updated",
    )
    # An agent confirms a duplicate here too (the dashboard and the API do it in one click): the original's id.
    raw_id_fields = ("duplicate_of",)
    actions = ("retry_failed", "reclassify")

    # Both actions send tickets back to the workers: they change tickets, so they need `change_ticket`
    # (without `allowed_permissions` Django offers an action to anyone who may view the list).
    @admin.action(description="Retry selected failed tickets", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        count = services.requeue_tickets(
            list(queryset.values_list("pk", flat=True)), only_failed=True, actor=cast(User, request.user)
        )
        self.message_user(request, f"{count} failed tickets queued again.", messages.SUCCESS)

    @admin.action(description="Reclassify selected tickets (keeps human corrections)", permissions=["change"])
    def reclassify(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        count = services.requeue_tickets(list(queryset.values_list("pk", flat=True)), actor=cast(User, request.user))
        self.message_user(request, f"{count} tickets queued for classification.", messages.SUCCESS)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """An agent's team: whose unassigned tickets they pick up ("Unassigned in my team")."""

    list_display = ("user", "team")
    list_filter = ("team",)
    search_fields = ("user__username", "team")
    list_select_related = ("user",)


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "shared", "query", "created")
    list_filter = ("shared",)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
