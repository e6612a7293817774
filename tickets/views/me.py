from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from supportintel.http import AuthenticatedHttpRequest
from tickets import workflow
from tickets.forms import TeamForm
from tickets.models import SavedView
from tickets.views.common import agent_required


@require_http_methods(["GET", "POST"])
@agent_required()
def me(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The agent's own settings: the team whose unassigned tickets they pick up, and their saved views."""
    form = TeamForm(request.POST or None, initial={"team": workflow.team_of(request.user)})
    if request.method == "POST" and form.is_valid():
        workflow.set_team(request.user, form.cleaned_data["team"])
        messages.success(request, "Your team is saved.")
        return redirect("tickets:me")
    views = SavedView.objects.filter(owner=request.user)
    return render(request, "tickets/me.html", {"form": form, "views": views}, status=422 if form.errors else 200)
