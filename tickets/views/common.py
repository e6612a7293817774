from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render

from supportintel.http import AuthenticatedHttpRequest
from tickets.models import Ticket

PAGE_SIZE = 25
# The session key of the last ticket list an agent saw: the ticket page's "← Tickets" goes back to it.
LAST_LIST = "tickets:last_list"
_Response = TypeVar("_Response", bound=HttpResponseBase)


def agent_required(
    perm: str = "tickets.view_ticket",
) -> Callable[[Callable[..., _Response]], Callable[..., _Response]]:
    """Logged in (else to the login page) and holding `perm` (else 403)."""

    def decorate(view: Callable[..., _Response]) -> Callable[..., _Response]:
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorate


def _get_ticket_for_user(
    request: AuthenticatedHttpRequest, pk: int, queryset: QuerySet[Ticket] | None = None
) -> Ticket:
    # Every agent sees every ticket; the view's permission decorator is the boundary.
    return get_object_or_404(queryset if queryset is not None else Ticket.objects.all(), pk=pk)


def wants_partial(request: AuthenticatedHttpRequest) -> bool:
    """An htmx swap gets the fragment; a normal load and htmx's history restore get the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_page(
    request: AuthenticatedHttpRequest, page: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    template = partial if wants_partial(request) else page
    return render(request, template, context, status=status)


@dataclass
class Page:
    """One page of rows without a COUNT: one row more than shown tells whether a next page exists."""

    rows: list[Ticket]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def paginate(queryset: QuerySet[Ticket], number: int, size: int = PAGE_SIZE) -> Page:
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return Page(rows=rows[:size], number=number, has_next=len(rows) > size)
