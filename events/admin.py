from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from audit import services as audit
from audit.models import Action
from events import services
from events.forms import SubscriptionForm
from events.models import Delivery, Event, WebhookSubscription


def _subscription_detail(subscription: WebhookSubscription) -> dict[str, Any]:
    # Never the secret: the audit log says a subscription changed, not how to forge its signatures.
    return {
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
    }


class DeliveryInline(admin.TabularInline):
    model = Delivery
    verbose_name_plural = "Delivery log (newest first; redeliver from Deliveries)"
    fields = ("event", "status", "response_code", "attempts", "latency_ms", "error", "created", "delivered_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-created",)
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("event")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "active", "status_note", "consecutive_failures", "updated")
    list_filter = ("active",)
    search_fields = ("name", "url")
    readonly_fields = ("consecutive_failures", "failing_since", "disabled_reason", "disabled_at", "created", "updated")
    inlines = [DeliveryInline]

    @admin.display(description="Status")
    def status_note(self, subscription: WebhookSubscription) -> str:
        if subscription.active:
            return "failing" if subscription.consecutive_failures else "ok"
        return format_html("disabled: {}", subscription.disabled_reason or "by hand")

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        was_active = change and WebhookSubscription.objects.filter(pk=obj.pk, active=True).exists()
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]  # admin users are Users
        super().save_model(request, obj, form, change)
        if obj.active and change and not was_active:
            services.reactivate(obj)
        action = Action.WEBHOOK_CHANGED if change else Action.WEBHOOK_CREATED
        audit.record(
            action, actor=request.user, target=f"webhook:{obj.pk}", detail=_subscription_detail(obj), request=request
        )

    def delete_model(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        detail, pk = _subscription_detail(obj), obj.pk
        super().delete_model(request, obj)
        audit.record(Action.WEBHOOK_DELETED, actor=request.user, target=f"webhook:{pk}", detail=detail, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            self.delete_model(request, subscription)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "subscription", "event_type", "status", "response_code", "attempts", "latency_ms", "created")
    list_filter = ("status", "subscription")
    list_select_related = ("subscription", "event")
    readonly_fields = (
        "subscription",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "response_code",
        "error",
        "latency_ms",
        "created",
        "delivered_at",
    )
    fields = readonly_fields
    actions = ["redeliver"]

    @admin.display(description="Event")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver now (same event id and body)", permissions=["change"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = services.redeliver(list(queryset.values_list("pk", flat=True)), actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"{count} deliveries will be sent again within seconds.", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "ticket_id", "created", "dispatched_at")
    list_filter = ("type",)
    readonly_fields = ("id", "type", "ticket", "detail", "schema_version", "created", "payload", "dispatched_at")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
