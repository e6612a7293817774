from __future__ import annotations

from typing import cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from tickets import services
from tickets.models import CURRENT_FIELDS, Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subject",
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
    list_filter = ("status", "category", "priority", "sentiment", "classification_source", "channel", "team")
    search_fields = ("subject", "external_id", "customer_email", "customer_name")
    date_hierarchy = "created"
    show_full_result_count = False  # no COUNT(*) over a million rows on every page
    readonly_fields = ("status_changed", *CURRENT_FIELDS, "created", "updated")
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
