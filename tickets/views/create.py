from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import reswap, retarget

from supportintel.http import AuthenticatedHttpRequest
from tickets import services
from tickets.forms import TicketForm
from tickets.views.common import agent_required


@require_http_methods(["GET", "POST"])
@agent_required("tickets.add_ticket")
def create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The new-ticket form. With htmx the answer is the new ticket's row, which then turns `classified`
    by itself; without JavaScript the browser is sent to the ticket's page."""
    form = TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ticket, _ = services.create_ticket(form.cleaned_data)
        if not request.htmx:
            return redirect("tickets:detail", pk=ticket.pk)
        # The new row goes on top of "just created"; the form clears itself (hx-on in the template).
        return render(request, "tickets/partials/ticket_row.html", {"ticket": ticket})
    if request.method == "POST":
        if request.htmx:
            response = render(request, "tickets/partials/ticket_form.html", {"form": form}, status=422)
            return reswap(retarget(response, "#ticket-form"), "outerHTML")
        return render(request, "tickets/create.html", {"form": form}, status=422)
    return render(request, "tickets/create.html", {"form": form})
