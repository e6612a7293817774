"""The customers pages: the list (with the rules the classification applies) and one customer's page."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from customers.context import for_customer
from customers.models import Customer
from customers.rules import Rules
from supportintel.http import AuthenticatedHttpRequest
from tickets.views.common import agent_required

# The list shows at most this many customers (search to find others).
LIST_SHOWN = 100


class CustomerFiltersForm(forms.Form):
    search = forms.CharField(required=False, max_length=200)
    vip = forms.BooleanField(required=False)


def _get_customer_for_user(request: AuthenticatedHttpRequest, key: str) -> Customer:
    # Every agent sees every customer; the view's permission decorator is the boundary.
    return get_object_or_404(Customer, key=key)


@require_GET
@agent_required()
def customer_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = CustomerFiltersForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Invalid filters")
    customers = Customer.objects.order_by("-vip", "key")
    if search := form.cleaned_data["search"].strip():
        customers = customers.filter(
            Q(key__icontains=search) | Q(name__icontains=search) | Q(organisation__icontains=search)
        )
    if form.cleaned_data["vip"]:
        customers = customers.filter(vip=True)
    context = {
        "form": form,
        "customers": customers[:LIST_SHOWN],
        "shown": LIST_SHOWN,
        "rules": Rules.from_settings().describe(),
    }
    return render(request, "customers/list.html", context)


@require_GET
@agent_required()
def customer_detail(request: AuthenticatedHttpRequest, key: str) -> HttpResponse:
    customer = _get_customer_for_user(request, key)
    return render(request, "customers/detail.html", {"customer_context": for_customer(customer), "full": True})
