from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from classification.models import Classification
from classification.services import record_correction
from customers import services as customers
from supportintel.http import AuthenticatedHttpRequest
from tickets import services, workflow
from tickets.forms import NOBODY, AssignForm, CorrectionForm, StateForm
from tickets.models import STATE_TRANSITIONS, Status, Ticket, TicketChange
from tickets.views.common import _get_ticket_for_user, agent_required

# The detail shows this many history rows and working-side changes; older ones are in admin.
HISTORY_SHOWN = 50
ACTIVITY_SHOWN = 20


def _ticket_with_history(request: AuthenticatedHttpRequest, pk: int) -> Ticket:
    history = (
        Classification.objects.select_related("author")
        .prefetch_related("citations")
        .order_by("-created", "-id")[:HISTORY_SHOWN]
    )
    activity = TicketChange.objects.select_related("author").order_by("-created", "-id")[:ACTIVITY_SHOWN]
    queryset = Ticket.objects.select_related(
        "assignee", "state_changed_by", "duplicate_of", "likely_duplicate_of"
    ).prefetch_related(
        Prefetch("classifications", queryset=history, to_attr="history"),
        Prefetch("changes", queryset=activity, to_attr="activity"),
    )
    return _get_ticket_for_user(request, pk, queryset)


def _work_context(ticket: Ticket) -> dict[str, Any]:
    """The working side: state and the moves open from it, assignee, SLA, and who changed what."""
    return {
        "ticket": ticket,
        "moves": STATE_TRANSITIONS[ticket.state],
        "assign_form": AssignForm(
            initial={"assignee": ticket.assignee.username if ticket.assignee else NOBODY}, holder=ticket.assignee
        ),
        "activity": ticket.activity,  # type: ignore[attr-defined]  # Prefetch(to_attr="activity")
    }


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
    ticket = _ticket_with_history(request, pk)
    context = {
        **_classification_context(ticket),
        **_work_context(ticket),
        "customer_context": customers.panel_for(ticket),
    }
    return render(request, "tickets/detail.html", context)


@require_GET
@agent_required()
def work_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The working-side card alone: redrawn after a correction changes the SLA, or when someone else acts."""
    return render(request, "tickets/partials/work.html", _work_context(_ticket_with_history(request, pk)))


def _work_response(request: AuthenticatedHttpRequest, pk: int, status: int = 200) -> HttpResponse:
    if not request.htmx:
        return redirect("tickets:detail", pk=pk)
    ticket = _ticket_with_history(request, pk)
    return render(request, "tickets/partials/work.html", _work_context(ticket), status=status)


@require_POST
@agent_required("tickets.change_ticket")
def change_state(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Open, pending, resolved, reopened: the working state, beside the pipeline's status."""
    ticket = _get_ticket_for_user(request, pk)
    form = StateForm(request.POST)
    if not form.is_valid():
        return _work_response(request, ticket.pk, status=422)
    workflow.change_state([ticket.pk], form.cleaned_data["state"], actor=request.user)
    return _work_response(request, ticket.pk)


@require_POST
@agent_required("tickets.change_ticket")
def assign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Assign the ticket to an agent (or to nobody); `assignee=me` is the person asking."""
    ticket = _get_ticket_for_user(request, pk, Ticket.objects.select_related("assignee"))
    data = request.POST.copy()
    if data.get("assignee") == "me":
        data["assignee"] = request.user.get_username()
    form = AssignForm(data, holder=ticket.assignee)
    if not form.is_valid():
        return _work_response(request, ticket.pk, status=422)
    workflow.assign([ticket.pk], form.assignee_user(), actor=request.user)
    return _work_response(request, ticket.pk)


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
        if request.htmx:
            return render(
                request, "tickets/partials/classification.html", _classification_context(ticket, form), status=422
            )
        context = {**_classification_context(ticket, form), **_work_context(ticket)}
        return render(request, "tickets/detail.html", context, status=422)
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
