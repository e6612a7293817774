"""Bulk actions from the list (the selected tickets, or every ticket its filter matches) and confirming
several tickets at once in needs review."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from classification.services import record_corrections
from supportintel.http import AuthenticatedHttpRequest
from tickets import services, workflow
from tickets.forms import BulkActionForm, ListOptionsForm
from tickets.models import STATE_TRANSITIONS, Source, Status, Ticket
from tickets.views.common import agent_required
from tickets.views.lists import list_filters, render_list, render_review


def _still_to_do(tickets: QuerySet[Ticket], form: BulkActionForm) -> QuerySet[Ticket]:
    """Leave out the tickets the action would not change, so "all matching" taken BULK_MAX at a time reaches
    every ticket in turn (and a repeated action writes no history twice)."""
    data = form.cleaned_data
    action = data["action"]
    if action == "assign":
        assignee = form.assignee_user()
        return tickets.filter(assignee__isnull=False) if assignee is None else tickets.exclude(assignee=assignee)
    if action == "state":
        allowed_from = [source for source, targets in STATE_TRANSITIONS.items() if data["state"] in targets]
        return tickets.filter(state__in=allowed_from)
    if action in ("category", "priority"):
        return tickets.exclude(Q(classification_source=Source.HUMAN) & Q(**{action: data[action]}))
    if action == "confirm":
        return tickets.exclude(classification_source=Source.HUMAN)
    return tickets.exclude(status__in=[Status.QUEUED, Status.PROCESSING])  # reclassify


def _targets(request: AuthenticatedHttpRequest, form: BulkActionForm) -> tuple[list[int], bool] | None:
    """The tickets the action applies to, in the list's order, and whether more remain than one action takes
    (BULK_MAX). None when the filter of "all matching" is not one the list accepts."""
    if form.cleaned_data.get("scope") == "all":
        filters = list_filters(request, form.filter_query())
        options = ListOptionsForm(form.filter_query())
        if not filters.is_valid() or not options.is_valid():
            return None
        tickets = filters.qs.order_by(*options.ordering())
    else:
        tickets = Ticket.objects.filter(pk__in=form.cleaned_data["ids"]).order_by("pk")
    ids = list(_still_to_do(tickets, form).values_list("pk", flat=True)[: workflow.BULK_MAX + 1])
    return ids[: workflow.BULK_MAX], len(ids) > workflow.BULK_MAX


def _apply(request: AuthenticatedHttpRequest, form: BulkActionForm, ids: list[int]) -> tuple[int, str]:
    """Run the action; (how many tickets changed, what happened to them in words)."""
    data, actor = form.cleaned_data, request.user
    action = data["action"]
    if action == "assign":
        assignee = form.assignee_user()
        changed = workflow.assign(ids, assignee, actor=actor)
        return len(changed), f"assigned to {assignee.get_username()}" if assignee else "unassigned"
    if action == "state":
        return len(workflow.change_state(ids, data["state"], actor=actor)), f"set to {data['state']}"
    if action in ("category", "priority", "confirm"):
        corrected = record_corrections(ids, actor, {action: data[action]} if action != "confirm" else {})
        return len(corrected), "confirmed" if action == "confirm" else f"given {action} {data[action]}"
    return services.requeue_tickets(ids, actor=actor), "queued for classification"


def _plural(count: int) -> str:
    return f"{count:,} ticket{'s' if count != 1 else ''}"


@require_POST
@agent_required("tickets.change_ticket")
def bulk(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One action on the tickets selected in the list (or in needs review), or on every ticket its filter
    matches, at most BULK_MAX per request. Answers with the list (or review) it came from, redrawn."""
    form = BulkActionForm(request.POST)
    origin = "review" if request.POST.get("origin") == "review" else "list"
    selection = _targets(request, form) if form.is_valid() else None
    if selection is None:
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors) or "invalid filter"
        messages.error(request, f"Nothing was changed: {errors}")
        status = 400
    else:
        ids, more = selection
        changed, what = _apply(request, form, ids) if ids else (0, "changed: none needed it")
        note = f" More match: apply again for the next {workflow.BULK_MAX:,}." if more else ""
        messages.success(request, f"{_plural(changed)} {what}.{note}")
        status = 200
    query = QueryDict(request.POST.get("query") or "")
    if origin == "review":
        if not request.htmx:
            return redirect(f"{reverse('tickets:review')}?{query.urlencode()}")
        return render_review(request, query, partial=True, status=status)
    if not request.htmx:
        return redirect(f"{reverse('tickets:list')}?{query.urlencode()}")
    return render_list(request, query, partial=True, status=status)
