"""The weekly run happens by itself (beat's schedule and its task), and every analysis task goes to the
`analysis` queue, away from classification."""

from __future__ import annotations

from pathlib import Path

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
    app.loader.import_default_modules()  # the tasks registered, as in a worker
    assert task in app.tasks  # a renamed task fails here, not silently routed by the "analysis.*" glob
    assert app.amqp.router.route({}, task)["queue"].name == queue


def _queues_after_q(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(","))


def test_the_analysis_queue_has_workers_in_compose_and_make_run() -> None:
    import argparse

    import yaml

    from supportintel import run_local

    root = Path(settings.BASE_DIR)
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    consumers = {name for name, service in services.items() if "-Q" in str(service.get("command", ""))}
    by_service = {name: _queues_after_q(services[name]["command"].split()) for name in consumers}
    assert by_service["analysis"] == {"analysis"} and "--pool prefork" in services["analysis"]["command"]
    assert "analysis" not in by_service["worker"]  # classification's workers never take a run
    args = argparse.Namespace(host="127.0.0.1", port=8000, llm="", fake_llm_port=8100)
    [worker] = [child for child in run_local._commands(args)[0] if child.name == "worker"]
    # make run's single worker consumes every queue a task is routed to, the analysis and similarity ones included.
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert _queues_after_q(worker.command) == routed and {"analysis", "similarity"} <= routed
