"""A run end to end on a real Celery worker process (the configured broker, the test database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisRun, RunStatus
from conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_is_planned_mapped_and_reduced_by_a_worker(celery_worker_process, week_of_tickets, settings):
    celery_worker_process(concurrency=2, ANALYSIS_CHUNK_SIZE="10")
    today = timezone.localdate()
    run = services.start_run(today - timedelta(days=6), today)

    def finished() -> AnalysisRun | None:
        current = AnalysisRun.objects.get(pk=run.pk)
        return current if current.is_finished else None

    done = wait_for(finished, timeout=120)
    assert done.status == RunStatus.COMPLETED
    assert done.chunks_total == 3 and done.processed == 30
    assert done.results["figures"]["count"] == 30 and done.results["themes"]
    assert done.summary["claims"]
