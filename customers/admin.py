from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from audit import services as audit
from audit.models import Action
from customers.models import Customer
from customers.rules import Rules


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "email", "organisation", "plan", "vip", "updated")
    list_filter = ("vip", "plan")
    search_fields = ("key", "name", "email", "organisation")
    readonly_fields = ("created", "updated")
    fields = ("key", "external_id", "email", "name", "organisation", "plan", "vip", "attributes", "created", "updated")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The rules the classification applies with these records, read from settings, above the list.
        extra = {**(extra_context or {}), "title": "Customers", "subtitle": " ".join(Rules.from_settings().describe())}
        return super().changelist_view(request, extra_context=extra)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        fields = sorted(form.changed_data) if change else ["created"]
        audit.record(
            Action.CUSTOMER_CHANGED,
            actor=request.user,
            target=f"customer:{obj.key}"[:200],
            detail={"fields": fields},
            request=request,
        )
