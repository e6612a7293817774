from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from classification.taxonomy import category_choices
from supportintel.http import AuthenticatedHttpRequest
from tickets import stats
from tickets.views.common import agent_required


def _charts() -> dict[str, object]:
    return {"charts": stats.charts([slug for slug, _ in category_choices()])}


@require_GET
@agent_required()
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {"stats": stats.overview(), **_charts()}
    return render(request, "tickets/overview.html", context)


@require_GET
@agent_required()
def stats_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "tickets/partials/stats.html", {"stats": stats.overview()})


@require_GET
@agent_required()
def charts_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "tickets/partials/charts.html", _charts())


@require_GET
@agent_required()
def breaker_badge(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "tickets/partials/breaker_badge.html")
