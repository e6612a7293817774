from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisRun, RunStatus
from analysis.tests.factories import AnalysisRunFactory

pytestmark = pytest.mark.django_db


def test_the_runs_page_starts_a_run_and_goes_to_its_page(agent_client, published, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            "/analysis/", {"first_day": str(today - timedelta(days=6)), "last_day": str(today), "priority": "high"}
        )
    run = AnalysisRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/analysis/{run.pk}/"
    assert run.filters == {"priority": "high"} and run.started_by is not None and run.started_by.username == "agent"
    page = agent_client.get("/analysis/")
    assert b"Start analysis" in page.content and f'id="run-{run.pk}"'.encode() in page.content


def test_a_bad_period_shows_the_form_again_with_400(agent_client, published):
    response = agent_client.post("/analysis/", {"first_day": "2026-02-02", "last_day": "2026-02-01"})
    assert response.status_code == 400 and b"ends before it starts" in response.content
    assert not AnalysisRun.objects.exists()


def test_a_running_run_polls_and_a_finished_one_stops_polling(agent_client, db):
    run = AnalysisRunFactory.create()
    AnalysisRun.objects.filter(pk=run.pk).start(chunks=2, total=20)
    page = agent_client.get(f"/analysis/{run.pk}/")
    assert b'hx-trigger="every 2s"' in page.content and b"<progress" in page.content
    partial = agent_client.get(f"/analysis/{run.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content
    services.cancel_run(run)
    partial = agent_client.get(f"/analysis/{run.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 286 and b"every 2s" not in partial.content and b"Cancelled" in partial.content


def test_a_completed_run_shows_its_report_and_downloads(agent_client, week_of_tickets, published):
    run = AnalysisRunFactory.create()
    services.run_inline(run.pk)
    page = agent_client.get(f"/analysis/{run.pk}/")
    assert b"Summary" in page.content and b'id="theme-1"' in page.content
    assert agent_client.get(f"/analysis/{run.pk}/report.md").content.startswith(f"# Analysis #{run.pk}".encode())
    assert agent_client.get(f"/analysis/{run.pk}/themes.csv")["Content-Type"].startswith("text/csv")


def test_cancel_from_the_page(agent_client, db):
    run = AnalysisRunFactory.create()
    response = agent_client.post(f"/analysis/{run.pk}/cancel/")
    run.refresh_from_db()
    assert response.status_code == 302 and run.status == RunStatus.CANCELLED


def test_anonymous_go_to_login_and_outsiders_get_403(outsider, db):
    run = AnalysisRunFactory.create()
    assert "/accounts/login/" in Client().get("/analysis/")["Location"]
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/analysis/{run.pk}/").status_code == 403
    assert client.post(f"/analysis/{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING
