from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from classification.taxonomy import category_choices
from supportintel.http import AuthenticatedHttpRequest
from tickets import stats
from tickets.forms import RANGES, RangeForm
from tickets.views.common import agent_required


def _period(request: AuthenticatedHttpRequest) -> tuple[RangeForm, stats.Period | None]:
    form = RangeForm(request.GET)
    if not form.is_valid():
        return form, None
    return form, stats.Period(*form.period())


def _context(request: AuthenticatedHttpRequest, *, figures: bool, charts: bool) -> tuple[dict[str, Any], int]:
    form, period = _period(request)
    context: dict[str, Any] = {"range_form": form, "ranges": RANGES, "query": request.GET.urlencode()}
    if period is None:
        return context, 400
    context["period"] = period
    if figures:
        context["stats"] = stats.overview(period)
    if charts:
        context["charts"] = stats.charts(period, category_choices())
    return context, 200


@require_GET
@agent_required()
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Now (status, queue, open work) and over a chosen period (today, 7 or 30 days, custom dates)."""
    context, status = _context(request, figures=True, charts=True)
    return render(request, "tickets/overview.html", context, status=status)


@require_GET
@agent_required()
def stats_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    context, status = _context(request, figures=True, charts=False)
    return render(request, "tickets/partials/stats.html", context, status=status)


@require_GET
@agent_required()
def charts_fragment(request: AuthenticatedHttpRequest) -> HttpResponse:
    context, status = _context(request, figures=False, charts=True)
    return render(request, "tickets/partials/charts.html", context, status=status)


@require_GET
@agent_required()
def breaker_badge(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "tickets/partials/breaker_badge.html")
