from __future__ import annotations

from contextlib import suppress

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from supportintel.http import AuthenticatedHttpRequest
from tickets.forms import ListOptionsForm, SavedViewForm
from tickets.models import SavedView
from tickets.views.common import agent_required
from tickets.views.lists import canonical_query, list_filters


def clean_query(request: AuthenticatedHttpRequest, query: str) -> str | None:
    """The query string of a view worth saving (its canonical form), or None if the list would refuse it."""
    data = QueryDict(query)
    if not list_filters(request, data).is_valid() or not ListOptionsForm(data).is_valid():
        return None
    return canonical_query(data)


@require_POST
@agent_required()
def save_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the list's current filters under a name (replacing the user's own view of that name)."""
    form = SavedViewForm(request.POST)
    query = clean_query(request, request.POST.get("query", "")) if form.is_valid() else None
    if query is None:
        messages.error(request, "The view was not saved: it needs a name and filters the list accepts.")
        return redirect(f"{reverse('tickets:list')}?{request.POST.get('query', '')}")
    # Saved twice at the same moment: the other request's row won, which is fine.
    with suppress(IntegrityError), transaction.atomic():
        SavedView.objects.update_or_create(
            owner=request.user,
            name=form.cleaned_data["name"].strip(),
            defaults={"query": query, "shared": form.cleaned_data["shared"]},
        )
    messages.success(request, f"View “{form.cleaned_data['name'].strip()}” saved.")
    return redirect(f"{reverse('tickets:list')}?{query}")


@require_POST
@agent_required()
def delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Delete one of the user's own saved views (a shared view is deleted by its owner only)."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect("tickets:list")
