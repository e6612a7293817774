from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from analysis import services
from analysis.models import AnalysisRun, RunStatus
from analysis.tests.factories import AnalysisRunFactory

pytestmark = pytest.mark.django_db


def test_post_starts_a_run_and_answers_202_with_its_status_url(
    api_client, published, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/analyses/",
            {"first_day": str(today - timedelta(days=6)), "last_day": str(today), "category": "billing"},
            format="json",
        )
    assert response.status_code == 202
    run = AnalysisRun.objects.get()
    assert response["Location"].endswith(f"/api/v1/analyses/{run.pk}/")
    assert response.json()["status"] == "pending" and run.filters == {"category": "billing"}
    assert run.trigger == "api" and run.started_by is not None and run.started_by.username == "agent"
    assert published == [("plan", run.pk, None)]


def test_post_without_dates_analyses_last_week(api_client, published):
    response = api_client.post("/api/v1/analyses/", {}, format="json")
    first, last = services.last_week()
    assert response.status_code == 202 and response.json()["first_day"] == str(first)
    assert response.json()["last_day"] == str(last)


def test_post_about_an_incident_without_dates_analyses_the_incidents_days(api_client, published):
    from incidents.models import Incident

    now = timezone.now()
    incident = Incident.objects.create(first_seen=now - timedelta(days=2), last_seen=now)

    body = api_client.post("/api/v1/analyses/", {"incident": str(incident.pk)}, format="json").json()

    assert body["first_day"] == str(timezone.localdate(now - timedelta(days=2)))
    assert body["last_day"] == str(timezone.localdate())  # open: up to today, not last week


def test_bad_filters_and_incidents_get_400_with_the_envelope(api_client, published):
    response = api_client.post("/api/v1/analyses/", {"category": "nope"}, format="json")
    assert response.status_code == 400 and "category" in response.json()["error"]["details"]
    response = api_client.post("/api/v1/analyses/", {"incident": "4"}, format="json")
    assert response.status_code == 400 and "no incident #4" in str(response.json()["error"]["details"])
    assert not AnalysisRun.objects.exists()


def test_detail_has_results_and_summary_and_downloads_once_completed(api_client, week_of_tickets, published, settings):
    run = AnalysisRunFactory.create()
    services.run_inline(run.pk)
    body = api_client.get(f"/api/v1/analyses/{run.pk}/").json()
    assert body["status"] == "completed" and body["results"]["figures"]["count"] == 30
    assert body["summary"]["claims"]
    report = api_client.get(body["downloads"]["markdown"])
    assert report["Content-Type"].startswith("text/markdown") and b"## Themes" in report.content
    themes = api_client.get(body["downloads"]["csv"])
    assert themes.content.decode().startswith("theme_id,label")
    listed = api_client.get("/api/v1/analyses/").json()
    assert listed["results"][0]["id"] == run.pk and "results" not in listed["results"][0]


def test_cancel_stops_a_running_run_and_refuses_a_finished_one(api_client, db):
    run = AnalysisRunFactory.create()
    response = api_client.post(f"/api/v1/analyses/{run.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert api_client.post(f"/api/v1/analyses/{run.pk}/cancel/").status_code == 409
    assert api_client.get(f"/api/v1/analyses/{run.pk}/report/").status_code == 409


def test_anonymous_and_outsiders_are_refused(outsider, db):
    run = AnalysisRunFactory.create()
    assert APIClient().get("/api/v1/analyses/").status_code in (401, 403)
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get(f"/api/v1/analyses/{run.pk}/").status_code == 403
    assert client.post("/api/v1/analyses/", {}, format="json").status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING
