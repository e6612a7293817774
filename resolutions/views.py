from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from resolutions import services
from resolutions.forms import DecisionForm
from resolutions.models import Draft, DraftStatus
from supportintel.http import AuthenticatedHttpRequest
from tickets.models import Source, Status, Ticket, WorkState
from tickets.views.common import _get_ticket_for_user, agent_required

# The panel polls for a draft this long after the ticket's classification; a draft later than that (a
# backlog) shows on the next load.
DRAFT_WAIT_SECONDS = 120


def _waiting(ticket: Ticket, draft: Draft | None) -> bool:
    """Whether a draft is still coming: the panel polls while it is."""
    if draft is not None:
        return draft.status == DraftStatus.DRAFTING
    if not settings.RESOLUTION_ENABLED or ticket.state == WorkState.RESOLVED:
        return False
    if ticket.status == Status.CLASSIFIED and ticket.classification_source == Source.HUMAN:
        return False  # a person's classification: the worker drafts nothing for it
    if ticket.status in (Status.QUEUED, Status.PROCESSING):
        return True
    recent = timezone.now() - timedelta(seconds=DRAFT_WAIT_SECONDS)
    return ticket.status == Status.CLASSIFIED and ticket.classified_at is not None and ticket.classified_at > recent


def _form_for(draft: Draft | None) -> DecisionForm:
    if draft is None:
        return DecisionForm()
    return DecisionForm(initial={"diagnosis": draft.diagnosis, "steps": "\n".join(draft.steps), "reply": draft.reply})


def panel_context(
    ticket: Ticket, *, perms: Any = None, csrf_token: Any = None, form: DecisionForm | None = None, error: str = ""
) -> dict[str, Any]:
    draft = services.latest_draft(ticket)
    return {
        "ticket": ticket,
        "draft": draft,
        "citations": services.shown_citations(draft) if draft is not None else [],
        "form": form or _form_for(draft),
        "waiting": _waiting(ticket, draft),
        "error": error,
        "perms": perms,
        "csrf_token": csrf_token,
    }


def _render_panel(request: AuthenticatedHttpRequest, ticket: Ticket, status: int = 200, **extra: Any) -> HttpResponse:
    context = panel_context(ticket, **extra)
    context.pop("perms"), context.pop("csrf_token")  # the request's own, from the context processors
    response = render(request, "resolutions/partials/draft.html", context, status=status)
    if status == 200 and not context["waiting"]:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_GET
@agent_required()
def panel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The resolution panel alone, polled while its draft is on its way."""
    if not request.htmx:
        return redirect("tickets:detail", pk=pk)
    return _render_panel(request, _get_ticket_for_user(request, pk))


@require_POST
@agent_required("tickets.change_ticket")
def decide(request: AuthenticatedHttpRequest, pk: int, draft_pk: int) -> HttpResponse:
    """Accept (as written, or with the agent's edits) or reject the draft."""
    ticket = _get_ticket_for_user(request, pk)
    draft = get_object_or_404(Draft, pk=draft_pk, ticket=ticket)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        if not request.htmx:
            messages.error(request, "The decision could not be saved: " + form.errors.as_text())
            return redirect("tickets:detail", pk=ticket.pk)
        return _render_panel(request, ticket, status=422, form=form)
    accepting = form.cleaned_data["decision"] == "accept"
    try:
        if accepting:
            services.accept(draft, request.user, form.edits())
        else:
            services.reject(draft, request.user, form.cleaned_data["note"])
    except services.DecisionRefused as exc:
        if not request.htmx:
            messages.error(request, str(exc))
            return redirect("tickets:detail", pk=ticket.pk)
        return _render_panel(request, ticket, status=422, error=str(exc))  # 422: htmx swaps it in
    if not request.htmx:
        messages.success(request, "Draft accepted: the ticket is resolved." if accepting else "Draft rejected.")
        return redirect("tickets:detail", pk=ticket.pk)
    ticket.refresh_from_db()
    response = _render_panel(request, ticket)
    response.status_code = 200  # a swap, not a poll: htmx swaps only 2xx it was not told to stop on
    return trigger_client_event(response, "ticketResolved", {"id": ticket.pk}) if accepting else response
