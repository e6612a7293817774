from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from supportintel.http import AuthenticatedHttpRequest
from tickets import services
from tickets.filters import TicketFilter
from tickets.forms import ListOptionsForm
from tickets.models import Source, Status, Ticket
from tickets.views.common import _get_ticket_for_user, agent_required, paginate, render_page

# The list never loads bodies (up to 20,000 characters each); the row shows the subject.
_ROW_FIELDS = ("body",)
# The failed view shows at most this many, oldest first.
FAILED_SHOWN = 200
# One retry-all click requeues at most this many (oldest first); click again for the next batch.
RETRY_ALL_BATCH = 1000


def _list_queryset() -> QuerySet[Ticket]:
    return Ticket.objects.defer(*_ROW_FIELDS)


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def ticket_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filters = TicketFilter(request.GET, queryset=_list_queryset())
    options = ListOptionsForm(request.GET)
    if not filters.is_valid() or not options.is_valid():
        context = {"filters": filters, "options": options, "page": None, "errors": True}
        return render_page(request, "tickets/list.html", "tickets/partials/ticket_list.html", context, status=400)
    page = paginate(filters.qs.order_by(*options.ordering()), options.page_number())
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filters": filters, "options": options, "page": page, "query": query.urlencode()}
    return render_page(request, "tickets/list.html", "tickets/partials/ticket_list.html", context)


@require_GET
@agent_required()
def ticket_row(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One row, polled while its ticket is queued or processing; polling stops once it is final."""
    ticket = _get_ticket_for_user(request, pk)
    response = render(request, "tickets/partials/ticket_row.html", {"ticket": ticket})
    if ticket.status in (Status.CLASSIFIED, Status.FAILED):
        response.status_code = HTMX_STOP_POLLING
    return response


@require_GET
@agent_required()
@vary_on_headers("HX-Request")
def needs_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Low-confidence and keyword-classified tickets, oldest first, for a person to confirm or correct."""
    options = ListOptionsForm(request.GET)
    if not options.is_valid():
        return render(request, "tickets/review.html", {"page": None, "errors": True}, status=400)
    pending = Q(confidence__lt=settings.REVIEW_CONFIDENCE_BELOW) | Q(classification_source=Source.KEYWORD)
    queryset = (
        _list_queryset()
        .filter(status=Status.CLASSIFIED)
        .exclude(classification_source=Source.HUMAN)
        .filter(pending)
        .order_by("created", "id")
    )
    context = {"page": paginate(queryset, options.page_number()), "threshold": settings.REVIEW_CONFIDENCE_BELOW}
    return render_page(request, "tickets/review.html", "tickets/partials/review_rows.html", context)


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
