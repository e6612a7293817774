from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Greatest, StrIndex, Substr, Upper
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, push_url

from supportintel.http import AuthenticatedHttpRequest
from tickets import services, workflow
from tickets.filters import ACTIVE, MINE, TicketFilter
from tickets.forms import BulkActionForm, ListOptionsForm, PageForm
from tickets.models import ACTIVE_STATES, SavedView, Source, Status, Ticket
from tickets.stats import capped_count
from tickets.views.common import LAST_LIST, _get_ticket_for_user, agent_required, paginate, wants_partial

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
_MORE_FILTERS = (
    "customer",
    "sentiment",
    "status",
    "source",
    "channel",
    "info",
    "min_risk",
    "received_after",
    "received_before",
)
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


# A search that matched in the body shows the passage around the match, this long.
SNIPPET_CHARS = 160


def _with_snippets(tickets: QuerySet[Ticket], search: str) -> QuerySet[Ticket]:
    """With a search, each row also carries where the text is in its body and the passage around it (the
    database cuts it, for the page's rows only: the list never loads whole bodies)."""
    term = search.strip()
    if not term:
        return tickets
    found = StrIndex(Upper("body"), Upper(Value(term)))
    start = Greatest(found - Value(SNIPPET_CHARS // 3), Value(1))
    return tickets.annotate(body_match=found, snippet=Substr("body", start, SNIPPET_CHARS))


def _saved_views(request: AuthenticatedHttpRequest) -> list[SavedView]:
    return list(SavedView.objects.filter(Q(owner=request.user) | Q(shared=True)).select_related("owner"))


def _with_page(query: str, page: Any) -> str:
    """The query with its page, when past the first."""
    if not page or str(page) == "1":
        return query
    return f"{query}&page={page}" if query else f"page={page}"


def render_list(
    request: AuthenticatedHttpRequest, data: QueryDict, *, partial: bool, status: int = 200
) -> HttpResponse:
    filters = list_filters(request, data)
    options = ListOptionsForm(data)
    template = "tickets/partials/ticket_list.html" if partial else "tickets/list.html"
    if not filters.is_valid() or not options.is_valid():
        context: dict[str, Any] = {"filters": filters, "options": options, "page": None, "errors": True}
        return render(request, template, context, status=400)
    query = canonical_query(data)
    search = filters.form.cleaned_data.get("search") or ""
    page = paginate(_with_snippets(filters.qs, search).order_by(*options.ordering()), options.page_number())
    saved_views = _saved_views(request)
    built_in = any(view_query == query for _, view_query in BUILT_IN_VIEWS)
    can_change = request.user.has_perm("tickets.change_ticket")
    context = {
        "filters": filters,
        "options": options,
        "page": page,
        # The filters in one spelling: links (pages, export, arrivals, views) and the view that is current.
        "query": query,
        "page_query": _with_page(query, page.number),
        "current_saved": None if built_in else next((v.pk for v in saved_views if v.query == query), None),
        "search": search,
        # New tickets are those above the highest id at render time (the arrivals bar counts them).
        "after": Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "can_change": can_change,
        "bulk_form": BulkActionForm(),
        "bulk_max": workflow.BULK_MAX,
        # "All N matching the filter": counted up to one more than a bulk action takes.
        "matching": capped_count(filters.qs, workflow.BULK_MAX + 1) if can_change else 0,
        "needs_team": data.get("team") == MINE and not workflow.team_of(request.user),
        # In the partial too: which view is current changes with the filters.
        "views": BUILT_IN_VIEWS,
        "saved_views": saved_views,
        # How many of the filters folded under "More filters" are set (they unfold when any is).
        "more_filters": sum(1 for key in _MORE_FILTERS if data.get(key)),
    }
    return render(request, template, context, status=status)


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def ticket_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The list. A filter change swaps only the list and the address bar shows the filters in their one
    spelling (no empty parameters); the ticket page's way back returns to the last list the agent saw."""
    response = render_list(request, request.GET, partial=wants_partial(request))
    if response.status_code == 200:
        query = _with_page(canonical_query(request.GET), request.GET.get("page"))
        address = f"{reverse('tickets:list')}?{query}" if query else reverse("tickets:list")
        if request.htmx and not request.htmx.history_restore_request:
            push_url(response, address)
        if request.session.get(LAST_LIST) != address:
            request.session[LAST_LIST] = address
    return response


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
    count = capped_count(filters.qs.filter(pk__gt=int(after)), ARRIVALS_CAP)
    context = {"count": count, "cap": ARRIVALS_CAP, "after": after, "query": canonical_query(request.GET)}
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


def render_review(
    request: AuthenticatedHttpRequest, data: QueryDict, *, partial: bool, status: int = 200
) -> HttpResponse:
    page_form = PageForm(data)
    template = "tickets/partials/review_rows.html" if partial else "tickets/review.html"
    if not page_form.is_valid():
        return render(request, template, {"page": None, "errors": True}, status=400)
    context = {
        "page": paginate(_review_queryset(), page_form.page_number()),
        "threshold": settings.REVIEW_CONFIDENCE_BELOW,
        "query": "",
        "page_query": _with_page("", page_form.page_number()),
        "can_change": request.user.has_perm("tickets.change_ticket"),
    }
    return render(request, template, context, status=status)


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def needs_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Automatic classifications for a person to confirm or correct, one at a time or a page at once."""
    return render_review(request, request.GET, partial=wants_partial(request))


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
