"""The dashboard's analysis pages: the runs (with the form that starts one), a run's page with its live
progress and, once completed, its report; cancel; the downloads."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from analysis import reports, services
from analysis.forms import RunForm
from analysis.models import AnalysisRun, RunStatus, Trigger
from supportintel.http import AuthenticatedHttpRequest
from tickets.views.common import agent_required, wants_partial

# The runs page lists this many, newest first.
RUNS_SHOWN = 50


def _get_run_for_user(request: AuthenticatedHttpRequest, pk: int) -> AnalysisRun:
    # Every agent sees every run; the view's permission decorator is the boundary.
    return get_object_or_404(AnalysisRun.objects.select_related("started_by"), pk=pk)


@require_http_methods(["GET", "POST"])
@agent_required()
def runs(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The runs, newest first, and the form that starts one (last week by default)."""
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = services.start_run(
                form.cleaned_data["first_day"],
                form.cleaned_data["last_day"],
                form.filters(),
                trigger=Trigger.DASHBOARD,
                user=request.user,
            )
        except services.InvalidRun as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("analysis:detail", pk=run.pk)
    listed = AnalysisRun.objects.select_related("started_by").defer("results", "summary")[:RUNS_SHOWN]
    status = 400 if form.errors else 200
    return render(request, "analysis/runs.html", {"form": form, "runs": listed}, status=status)


@require_GET
@vary_on_headers("HX-Request")
@agent_required()
def detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A run: its progress while it runs (htmx polls the partial, which stops the polling once the run is
    finished), then its report."""
    run = _get_run_for_user(request, pk)
    context = {"run": run}
    if wants_partial(request):
        response = render(request, "analysis/partials/run.html", context)
        if run.is_finished:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "analysis/detail.html", context)


@require_POST
@agent_required()
def cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = _get_run_for_user(request, pk)
    services.cancel_run(run)
    return redirect("analysis:detail", pk=run.pk)


def _download(run: AnalysisRun, body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@agent_required()
def report_markdown(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(AnalysisRun, pk=pk, status=RunStatus.COMPLETED)
    return _download(run, reports.markdown(run), "text/markdown; charset=utf-8", f"analysis-{run.pk}.md")


@require_GET
@agent_required()
def themes_csv(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(AnalysisRun, pk=pk, status=RunStatus.COMPLETED)
    return _download(run, reports.themes_csv(run), "text/csv; charset=utf-8", f"analysis-{run.pk}-themes.csv")
