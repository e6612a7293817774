from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from classification.models import Classification
from classification.services import record_correction
from supportintel.http import AuthenticatedHttpRequest
from tickets import services
from tickets.forms import CorrectionForm
from tickets.models import Status, Ticket
from tickets.views.common import _get_ticket_for_user, agent_required

# The detail shows this many history rows; older ones are in admin.
HISTORY_SHOWN = 50


def _ticket_with_history(request: AuthenticatedHttpRequest, pk: int) -> Ticket:
    history = Classification.objects.select_related("author").order_by("-created", "-id")[:HISTORY_SHOWN]
    queryset = Ticket.objects.prefetch_related(Prefetch("classifications", queryset=history, to_attr="history"))
    return _get_ticket_for_user(request, pk, queryset)


def _classification_context(ticket: Ticket, form: CorrectionForm | None = None) -> dict[str, Any]:
    history: list[Classification] = ticket.history  # type: ignore[attr-defined]  # Prefetch(to_attr="history")
    current = history[0] if history else None
    latest_automatic = next((row for row in history if row.source != "human"), None)
    entities = latest_automatic.entities if latest_automatic else {}
    return {
        "ticket": ticket,
        "current": current,
        "latest_automatic": latest_automatic,
        "entity_rows": [(name.replace("_", " "), value) for name, values in entities.items() for value in values],
        "history": history,
        "form": form or CorrectionForm.for_ticket(ticket),
        "pending": ticket.status in (Status.QUEUED, Status.PROCESSING),
    }


@require_GET
@agent_required()
def detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return render(request, "tickets/detail.html", _classification_context(_ticket_with_history(request, pk)))


@require_GET
@agent_required()
def classification_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The classification block, polled while the ticket is queued or processing."""
    context = _classification_context(_ticket_with_history(request, pk))
    response = render(request, "tickets/partials/classification.html", context)
    if not context["pending"]:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_POST
@agent_required("tickets.change_ticket")
def correct(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_with_history(request, pk)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        context = _classification_context(ticket, form)
        template = "tickets/partials/classification.html" if request.htmx else "tickets/detail.html"
        return render(request, template, context, status=422)
    record_correction(ticket, request.user, form.cleaned_data)
    from_review = request.POST.get("from") == "review"
    if not request.htmx:
        return redirect("tickets:review") if from_review else redirect("tickets:detail", pk=ticket.pk)
    if from_review:
        # Confirmed or corrected from the review list: the row leaves the list.
        return trigger_client_event(HttpResponse(""), "ticketReviewed", {"id": ticket.pk})
    response = render(
        request, "tickets/partials/classification.html", _classification_context(_ticket_with_history(request, pk))
    )
    return trigger_client_event(response, "ticketCorrected", {"id": ticket.pk})


def _requeue_response(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    if not request.htmx:
        return redirect("tickets:detail", pk=pk)
    return render(
        request, "tickets/partials/classification.html", _classification_context(_ticket_with_history(request, pk))
    )


@require_POST
@agent_required("tickets.change_ticket")
def reclassify(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket_for_user(request, pk)
    services.requeue_tickets([ticket.pk], force=request.POST.get("force") == "1", actor=request.user)
    return _requeue_response(request, ticket.pk)


@require_POST
@agent_required("tickets.change_ticket")
def retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    ticket = _get_ticket_for_user(request, pk)
    services.requeue_tickets([ticket.pk], only_failed=True, actor=request.user)
    return _requeue_response(request, ticket.pk)
