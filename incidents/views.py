from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents import services
from incidents.forms import DuplicateForm, IncidentStatusForm
from incidents.models import Incident
from supportintel.http import AuthenticatedHttpRequest
from tickets.models import Ticket
from tickets.stats import Bar
from tickets.views.common import agent_required

# The incidents page lists the latest this many.
INCIDENTS_SHOWN = 50


def _get_incident_for_user(request: AuthenticatedHttpRequest, pk: int) -> Incident:
    # Every agent sees every incident; the view's permission decorator is the boundary.
    return get_object_or_404(Incident, pk=pk)


@require_GET
@agent_required()
def incident_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    incidents = Incident.objects.order_by("-status", "-last_seen", "-id")[:INCIDENTS_SHOWN]
    return render(request, "incidents/list.html", {"incidents": incidents, "shown": INCIDENTS_SHOWN})


@require_GET
@agent_required()
def incident_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = _get_incident_for_user(request, pk)
    tickets = Ticket.objects.filter(incident_link__incident=incident).defer("body").order_by("created", "pk")
    growth = [
        Bar(timezone.localtime(bucket["start"]).strftime("%H:%M"), bucket["tickets"])
        for bucket in services.growth(incident)
    ]
    return render(request, "incidents/detail.html", {"incident": incident, "tickets": tickets, "growth_bars": growth})


@require_POST
@agent_required("tickets.change_ticket")
def incident_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Close an incident (the outage is over) or reopen it."""
    incident = _get_incident_for_user(request, pk)
    form = IncidentStatusForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("status must be open or closed")
    services.set_incident_status(incident, form.cleaned_data["status"], request.user, via="dashboard", request=request)
    return redirect("incidents:detail", pk=incident.pk)


@require_POST
@agent_required("tickets.change_ticket")
def confirm_duplicate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One click on a ticket's page: it duplicates the ticket named (or, empty, it is not a duplicate)."""
    ticket = get_object_or_404(Ticket.objects.only("pk", "duplicate_of"), pk=pk)
    form = DuplicateForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("no such ticket")
    original = form.cleaned_data["duplicate_of"]
    if original is None:
        services.clear_duplicate(ticket, actor=request.user, via="dashboard", request=request)
        messages.success(request, f"#{ticket.pk} is no longer marked a duplicate.")
        return redirect("tickets:detail", pk=ticket.pk)
    try:
        linked = services.confirm_duplicate(ticket, original, actor=request.user, via="dashboard", request=request)
    except services.DuplicateRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"#{ticket.pk} confirmed a duplicate of #{linked.pk}; both are kept.")
    return redirect("tickets:detail", pk=ticket.pk)
