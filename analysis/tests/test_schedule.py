"""The weekly run happens by itself (beat's schedule and its task), and every analysis task goes to the
`analysis` queue, away from classification."""

from __future__ import annotations

import pytest
from celery.schedules import crontab
from django.conf import settings

from analysis import services, tasks
from analysis.models import AnalysisRun, Trigger
from supportintel.celery_app import app


def test_beat_starts_the_weekly_run_on_monday_mornings() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["weekly-analysis"]
    assert entry["task"] == "analysis.weekly_run"
    assert entry["schedule"] == crontab(minute=0, hour=6, day_of_week=1)


@pytest.mark.django_db
def test_the_weekly_task_starts_a_run_over_last_week(published, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        tasks.weekly_run_task()
    run = AnalysisRun.objects.get()
    assert (run.first_day, run.last_day) == services.last_week() and run.trigger == Trigger.SCHEDULE
    assert published == [("plan", run.pk, None)]


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("analysis.plan_run", "analysis"),
        ("analysis.map_chunk", "analysis"),
        ("analysis.reduce_run", "analysis"),
        ("analysis.sweep_runs", "analysis"),
        ("analysis.weekly_run", "analysis"),
        ("classification.classify_ticket", "classification"),
        ("events.deliver", "events"),
    ],
)
def test_analysis_tasks_have_their_own_queue(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue
