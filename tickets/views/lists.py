from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from classification.services import record_corrections
from supportintel.http import AuthenticatedHttpRequest
from tickets import services, workflow
from tickets.filters import ACTIVE, TicketFilter
from tickets.forms import BulkActionForm, ListOptionsForm, PageForm
from tickets.models import ACTIVE_STATES, SavedView, Source, Status, Ticket
from tickets.views.common import _get_ticket_for_user, agent_required, paginate, wants_partial

# The list never loads bodies (up to 20,000 characters each); the row shows the subject.
_ROW_FIELDS = ("body",)
# The failed view shows at most this many, oldest first.
FAILED_SHOWN = 200
# One retry-all click requeues at most this many (oldest first); click again for the next batch.
RETRY_ALL_BATCH = 1000
# The new-arrivals bar counts at most this many ("99+").
ARRIVALS_CAP = 100


def _list_queryset() -> QuerySet[Ticket]:
    return Ticket.objects.defer(*_ROW_FIELDS).select_related("assignee")


def list_filters(request: AuthenticatedHttpRequest, data: QueryDict) -> TicketFilter:
    """The list's filters. Without a `state` in the query the list shows open and pending tickets:
    resolved ones leave the default view (`state=` with no value shows every state)."""
    data = data.copy()
    data.setdefault("state", ACTIVE)
    return TicketFilter(data, queryset=_list_queryset(), request=request)


# The views every agent has, beside their saved ones: (name, query).
BUILT_IN_VIEWS = [
    ("Open", ""),
    ("Mine", "assignee=me"),
    ("Unassigned in my team", "assignee=none&team=mine"),
    ("Overdue", "due=overdue&sort=due"),
    ("Pending", "state=pending"),
    ("Resolved", "state=resolved"),
]


# The parameters that make a view: the list's filters and its sort (not the page).
_VIEW_KEYS = [
    *(name for name in TicketFilter.Meta.fields if name != "received"),
    "received_after",
    "received_before",
    "sort",
]
# The filters the list folds under "More filters".
_MORE_FILTERS = ("sentiment", "status", "source", "channel", "min_risk", "received_after", "received_before")
# Values that are the list's defaults, so a view that spells them out is the same view.
_DEFAULTS = {"state": ACTIVE, "sort": "newest"}


def canonical_query(data: QueryDict) -> str:
    """One spelling per view: filters and sort in a fixed order, empty values and defaults left out (except
    `state=`, every state, which differs from no state: open and pending)."""
    kept = QueryDict(mutable=True)
    for key in _VIEW_KEYS:
        values = [value for value in data.getlist(key) if (value or key == "state") and value != _DEFAULTS.get(key)]
        if values:
            kept.setlist(key, values[-1:])
    return kept.urlencode()


def _saved_views(request: AuthenticatedHttpRequest) -> list[SavedView]:
    return list(SavedView.objects.filter(Q(owner=request.user) | Q(shared=True)).select_related("owner"))


def _query(data: QueryDict) -> str:
    query = data.copy()
    for key in ("page", "after"):
        query.pop(key, None)
    return query.urlencode()


def _render_list(
    request: AuthenticatedHttpRequest, data: QueryDict, *, partial: bool, status: int = 200
) -> HttpResponse:
    filters = list_filters(request, data)
    options = ListOptionsForm(data)
    template = "tickets/partials/ticket_list.html" if partial else "tickets/list.html"
    if not filters.is_valid() or not options.is_valid():
        context: dict[str, Any] = {"filters": filters, "options": options, "page": None, "errors": True}
        return render(request, template, context, status=400)
    query = _query(data)
    context = {
        "filters": filters,
        "options": options,
        "page": paginate(filters.qs.order_by(*options.ordering()), options.page_number()),
        "query": query,
        "current_view": canonical_query(data),
        "search": filters.form.cleaned_data.get("search") or "",
        # New tickets are those above the highest id at render time (the arrivals bar counts them).
        "after": Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "can_change": request.user.has_perm("tickets.change_ticket"),
        "bulk_form": BulkActionForm(),
        # In the partial too: which view is current changes with the filters.
        "views": BUILT_IN_VIEWS,
        "saved_views": _saved_views(request),
        # How many of the filters folded under "More filters" are set (they unfold when any is).
        "more_filters": sum(1 for key in _MORE_FILTERS if data.get(key)),
    }
    return render(request, template, context, status=status)


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def ticket_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _render_list(request, request.GET, partial=wants_partial(request))


@require_GET
@agent_required()
def arrivals(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How many tickets matching the list's filters arrived since it was drawn (ids above `after`): the
    list polls this, and shows a bar to load them rather than moving the rows under the agent's eyes."""
    page = PageForm(request.GET)
    filters = list_filters(request, request.GET)
    after = request.GET.get("after", "")
    if not after.isdigit() or not filters.is_valid() or not page.is_valid():
        return HttpResponse("", status=400)
    count = filters.qs.filter(pk__gt=int(after)).values("pk")[:ARRIVALS_CAP].count()
    context = {"count": count, "cap": ARRIVALS_CAP, "after": after, "query": _query(request.GET)}
    return render(request, "tickets/partials/arrivals.html", context)


@require_GET
@agent_required()
def ticket_row(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One row, polled while its ticket is queued or processing; polling stops once it is final."""
    ticket = _get_ticket_for_user(request, pk, _list_queryset())
    context = {"ticket": ticket, "selectable": request.GET.get("selectable") == "1"}
    response = render(request, "tickets/partials/ticket_row.html", context)
    if ticket.status in (Status.CLASSIFIED, Status.FAILED):
        response.status_code = HTMX_STOP_POLLING
    return response


def _bulk_ids(request: AuthenticatedHttpRequest, form: BulkActionForm) -> tuple[list[int], bool] | None:
    """The tickets a bulk action applies to, and whether more matched than one action takes (BULK_MAX)."""
    if form.cleaned_data.get("scope") != "all":
        return form.cleaned_data["ids"], False
    filters = list_filters(request, form.filter_query())
    options = ListOptionsForm(form.filter_query())
    if not filters.is_valid() or not options.is_valid():
        return None
    ids = list(filters.qs.order_by(*options.ordering()).values_list("pk", flat=True)[: workflow.BULK_MAX + 1])
    return ids[: workflow.BULK_MAX], len(ids) > workflow.BULK_MAX


def _apply(request: AuthenticatedHttpRequest, form: BulkActionForm, ids: list[int]) -> str:
    """Run one bulk action; returns what happened, in words."""
    data, actor = form.cleaned_data, request.user
    action = data["action"]
    if action == "assign":
        assignee = form.assignee_user()
        changed = workflow.assign(ids, assignee, actor=actor)
        return f"{len(changed)} assigned to {assignee.get_username() if assignee else 'nobody'}"
    if action == "state":
        changed = workflow.change_state(ids, data["state"], actor=actor)
        return f"{len(changed)} set to {data['state']}"
    if action in ("category", "priority", "confirm"):
        values = {action: data[action]} if action != "confirm" else {}
        corrected = record_corrections(ids, actor, values)
        return f"{len(corrected)} {'confirmed' if action == 'confirm' else 'corrected'}"
    queued = services.requeue_tickets(ids, actor=actor)
    return f"{queued} queued for classification"


@require_POST
@agent_required("tickets.change_ticket")
def bulk(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One action on the tickets selected in the list (or in needs review), or on every ticket its filter
    matches, at most BULK_MAX per request. Answers with the list (or review) it came from, redrawn."""
    form = BulkActionForm(request.POST)
    origin = "review" if request.POST.get("origin") == "review" else "list"
    selection = _bulk_ids(request, form) if form.is_valid() else None
    if selection is None:
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors) or "invalid filter"
        messages.error(request, f"Nothing was changed: {errors}")
        status = 400
    else:
        ids, more = selection
        done = _apply(request, form, ids)
        note = f" (the first {len(ids):,} of the matching tickets; apply again for the rest)" if more else ""
        messages.success(request, f"{done} of {len(ids)} ticket{'s' if len(ids) != 1 else ''}{note}.")
        status = 200
    query = QueryDict(request.POST.get("query") or "")
    if origin == "review":
        if not request.htmx:
            return redirect(f"{reverse('tickets:review')}?{query.urlencode()}")
        return _render_review(request, query, partial=True, status=status)
    if not request.htmx:
        return redirect(f"{reverse('tickets:list')}?{query.urlencode()}")
    return _render_list(request, query, partial=True, status=status)


def _review_queryset() -> QuerySet[Ticket]:
    """Low-confidence and keyword-classified tickets not yet resolved, oldest first."""
    pending = Q(confidence__lt=settings.REVIEW_CONFIDENCE_BELOW) | Q(classification_source=Source.KEYWORD)
    return (
        _list_queryset()
        .filter(status=Status.CLASSIFIED, state__in=ACTIVE_STATES)
        .exclude(classification_source=Source.HUMAN)
        .filter(pending)
        .order_by("created", "id")
    )


def _render_review(
    request: AuthenticatedHttpRequest, data: QueryDict, *, partial: bool, status: int = 200
) -> HttpResponse:
    page_form = PageForm(data)
    template = "tickets/partials/review_rows.html" if partial else "tickets/review.html"
    if not page_form.is_valid():
        return render(request, template, {"page": None, "errors": True}, status=400)
    context = {
        "page": paginate(_review_queryset(), page_form.page_number()),
        "threshold": settings.REVIEW_CONFIDENCE_BELOW,
        "query": _query(data),
        "can_change": request.user.has_perm("tickets.change_ticket"),
    }
    return render(request, template, context, status=status)


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def needs_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Automatic classifications for a person to confirm or correct, one at a time or a page at once."""
    return _render_review(request, request.GET, partial=wants_partial(request))


@require_GET
@agent_required()
def failed(request: AuthenticatedHttpRequest) -> HttpResponse:
    tickets = _list_queryset().filter(status=Status.FAILED).order_by("status_changed")[:FAILED_SHOWN]
    return render(request, "tickets/failed.html", {"tickets": tickets, "shown": FAILED_SHOWN})


@require_POST
@agent_required("tickets.change_ticket")
def retry_all_failed(request: AuthenticatedHttpRequest) -> HttpResponse:
    ids = Ticket.objects.filter(status=Status.FAILED).order_by("status_changed").values_list("pk", flat=True)
    services.requeue_tickets(list(ids[:RETRY_ALL_BATCH]), only_failed=True, actor=request.user)
    return redirect(reverse("tickets:failed"))
