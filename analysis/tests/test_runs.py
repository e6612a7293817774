from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisChunk, AnalysisRun, RunStatus
from analysis.tests.factories import AnalysisRunFactory

pytestmark = pytest.mark.django_db


def _run_all(run: AnalysisRun, published: list) -> None:
    """Drive the published steps in order, as workers would."""
    while published:
        step, run_id, index = published.pop(0)
        {"plan": services.plan_run, "reduce": services.reduce_run}.get(step, services.map_chunk)(
            *((run_id,) if index is None else (run_id, index))
        )


def test_a_run_goes_pending_running_completed_with_figures_and_themes(week_of_tickets, published, settings):
    settings.ANALYSIS_CHUNK_SIZE = 10
    first, last = timezone.localdate() - timedelta(days=6), timezone.localdate()
    run = services.start_run(first, last)
    assert run.status == RunStatus.PENDING
    services.plan_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.total, run.chunks_total) == (RunStatus.RUNNING, 30, 3)
    _run_all(run, published)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.processed == 30 and run.percent == 100
    assert run.results["figures"]["count"] == 30
    by_category = {row["key"]: row["count"] for row in run.results["figures"]["by"]["category"]}
    assert by_category == {"billing": 10, "account": 10, "general": 10}
    assert run.results["previous"]["count"] == 6
    labels = " ".join(theme["label"] for theme in run.results["themes"])
    assert "refund" in labels and "password" in labels
    assert run.summary["source"] == "template" and run.summary["fallback_reason"] == "not_configured"


def test_a_chunk_mapped_twice_counts_once(week_of_tickets, published, settings):
    settings.ANALYSIS_CHUNK_SIZE = 10
    run = AnalysisRunFactory.create()
    services.plan_run(run.pk)
    services.map_chunk(run.pk, 0)
    services.map_chunk(run.pk, 0)  # redelivered after a worker died
    run.refresh_from_db()
    assert run.processed == 10
    assert AnalysisChunk.objects.filter(run=run, index=0).count() == 1
    assert ("reduce", run.pk, None) not in published
    services.map_chunk(run.pk, 1)
    services.map_chunk(run.pk, 2)
    services.map_chunk(run.pk, 2)
    services.reduce_run(run.pk)
    services.reduce_run(run.pk)  # a second reduce message: the run is no longer running
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.results["figures"]["count"] == 30


def test_the_reduce_waits_for_missing_chunks_and_the_sweep_publishes_them(week_of_tickets, published, settings):
    settings.ANALYSIS_CHUNK_SIZE = 10
    settings.ANALYSIS_CHUNK_STALE_SECONDS = 0
    run = AnalysisRunFactory.create()
    services.plan_run(run.pk)
    published.clear()  # the chunk messages were lost
    services.reduce_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.reduce_claimed is None
    assert services.sweep()["chunks"] == 3
    _run_all(run, published)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_a_cancelled_run_maps_and_reduces_nothing(week_of_tickets, published, settings):
    settings.ANALYSIS_CHUNK_SIZE = 10
    run = AnalysisRunFactory.create()
    services.plan_run(run.pk)
    assert services.cancel_run(run)
    _run_all(run, published)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.processed == 0 and run.results == {}
    assert not services.cancel_run(run)  # already finished


def test_transitions_change_only_rows_in_their_starting_state(db):
    run = AnalysisRunFactory.create()
    runs = AnalysisRun.objects.filter(pk=run.pk)
    assert runs.complete(results={}, summary={}) == 0  # pending cannot complete
    assert runs.start(chunks=1, total=1) == 1
    assert runs.start(chunks=1, total=1) == 0
    stale = timezone.now() - timedelta(minutes=5)
    assert runs.claim_reduce(stale_before=stale) == 1
    assert runs.claim_reduce(stale_before=stale) == 0  # taken, not stale
    assert runs.complete(results={"a": 1}, summary={}) == 1
    assert runs.cancel() == 0 and runs.fail("late") == 0
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.results == {"a": 1}


def test_an_empty_period_completes_with_no_themes(db, published):
    run = AnalysisRunFactory.create()
    services.plan_run(run.pk)
    _run_all(run, published)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.results["themes"] == [] and run.total == 0


def test_filters_are_checked_and_an_incident_must_exist(db):
    with pytest.raises(services.InvalidRun, match="no incident #3"):
        services.clean_filters({"incident": "3"})
    with pytest.raises(services.InvalidRun, match="unknown filter"):
        services.clean_filters({"colour": "red"})
    assert services.clean_filters({"category": "billing", "team": ""}) == {"category": "billing"}


def test_a_run_over_one_incident_counts_its_tickets_and_reports_the_periods_incidents(week_of_tickets):
    from incidents.models import Incident, IncidentTicket

    now = timezone.now()
    incident = Incident.objects.create(title="Checkout outage", first_seen=now, last_seen=now, ticket_count=3)
    for ticket in week_of_tickets[:3]:
        IncidentTicket.objects.create(incident=incident, ticket=ticket, customer=f"c{ticket.pk}")
    today = timezone.localdate()
    run = services.start_run(today - timedelta(days=6), today, {"incident": str(incident.pk)}, publish=False)
    services.run_inline(run.pk)
    run.refresh_from_db()
    assert run.results["figures"]["count"] == 3
    assert [(i["id"], i["title"]) for i in run.results["incidents"]] == [(incident.pk, "Checkout outage")]
