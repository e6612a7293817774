from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from supportintel.http import AuthenticatedHttpRequest
from tickets.models import Ticket

LATEST_TICKETS = 25


@require_GET
@login_required
@permission_required("tickets.view_ticket", raise_exception=True)
@vary_on_headers("HX-Request")
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    tickets = Ticket.objects.defer("body").order_by("-created", "-id")[:LATEST_TICKETS]
    context = {"tickets": tickets}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "tickets/partials/ticket_rows.html", context)
    return render(request, "tickets/overview.html", context)
