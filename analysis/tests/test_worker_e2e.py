"""Runs end to end on real Celery worker processes (the configured broker, the test database): a plain run,
and a run whose worker is killed (SIGKILL) in the middle and finished by a new one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisChunk, AnalysisRun, RunStatus
from conftest import wait_for
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

# The killed run: many small chunks, so the kill lands while most are still to map.
KILLED_RUN_TICKETS = 1500
CATEGORIES = ("billing", "account", "technical", "general")
TEXTS = (
    "I was charged twice for my subscription, please refund the duplicate payment",
    "The password reset link never arrives and I am locked out of my account",
    "The app crashes with an error every time I upload a file",
    "Where can I find the opening hours of your office",
)


def _finished(run_id: int) -> AnalysisRun | None:
    current = AnalysisRun.objects.get(pk=run_id)
    return current if current.is_finished else None


def test_a_run_is_planned_mapped_and_reduced_by_a_worker(celery_worker_process, week_of_tickets, settings):
    celery_worker_process(concurrency=2, queues="analysis", ANALYSIS_CHUNK_SIZE="10")
    today = timezone.localdate()
    run = services.start_run(today - timedelta(days=6), today)

    done = wait_for(lambda: _finished(run.pk), timeout=120)
    assert done.status == RunStatus.COMPLETED
    assert done.chunks_total == 3 and done.processed == 30
    assert done.results["figures"]["count"] == 30 and done.results["themes"]
    assert done.summary["claims"]


def _many_tickets(count: int) -> dict[str, int]:
    """`count` classified tickets over the last three days, in four categories; how many in each."""
    now = timezone.now()
    tickets = [
        Ticket(
            subject=f"{TEXTS[n % 4][:40]} {n}",
            body=f"{TEXTS[n % 4]} (ref {n})",
            status="classified",
            category=CATEGORIES[n % 4],
            priority="medium",
            sentiment="neutral",
            risk=(n % 100) / 100,
            team="frontline",
            classification_source="keyword",
            channel="email",
            created=now - timedelta(minutes=n + 60),
        )
        for n in range(count)
    ]
    Ticket.objects.bulk_create(tickets, batch_size=500)
    return dict(Counter(CATEGORIES[n % 4] for n in range(count)))


def _kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes at once: nothing finishes, nothing is acknowledged."""
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        children = []
    for pid in (process.pid, *map(int, children)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_worker_killed_mid_run_loses_no_chunk_and_counts_none_twice(celery_worker_process: Any) -> None:
    per_category = _many_tickets(KILLED_RUN_TICKETS)
    first = celery_worker_process(concurrency=2, queues="analysis", ANALYSIS_CHUNK_SIZE="10")
    today = timezone.localdate()
    run = services.start_run(today - timedelta(days=6), today)

    # Some chunks mapped, most not: the worker dies there, with chunks in its hands (late acks).
    wait_for(lambda: AnalysisChunk.objects.filter(run=run, done__isnull=False).count() >= 5, timeout=120, interval=0.05)
    _kill_worker(first)
    killed = AnalysisRun.objects.get(pk=run.pk)
    assert killed.status == RunStatus.RUNNING and killed.chunks_total == KILLED_RUN_TICKETS // 10
    undone = AnalysisChunk.objects.filter(run=run, done__isnull=True).count()
    assert 0 < undone < killed.chunks_total
    assert 0 < killed.processed < KILLED_RUN_TICKETS

    # A new worker, with beat: the sweep publishes again every chunk still undone after 2 s (those the
    # killed worker held included), beside the messages still queued, so many chunks run twice.
    celery_worker_process(
        concurrency=2,
        beat=True,
        queues="analysis",
        ANALYSIS_CHUNK_SIZE="10",
        ANALYSIS_SWEEP_SECONDS="1",
        ANALYSIS_CHUNK_STALE_SECONDS="2",
        ANALYSIS_REDUCE_STALE_SECONDS="10",
    )
    done = wait_for(lambda: _finished(run.pk), timeout=240)

    assert done.status == RunStatus.COMPLETED
    assert done.processed == done.total == KILLED_RUN_TICKETS  # each ticket counted once
    chunks = list(AnalysisChunk.objects.filter(run=run).order_by("index"))
    assert len(chunks) == done.chunks_total and all(chunk.done for chunk in chunks)
    assert sum(chunk.processed for chunk in chunks) == KILLED_RUN_TICKETS
    figures = done.results["figures"]
    assert figures["count"] == KILLED_RUN_TICKETS
    assert {name: row["count"] for name, row in _by(figures, "category").items()} == per_category
    themed = [pk for theme in done.results["themes"] for pk in theme["ticket_ids"]]
    assert len(themed) == len(set(themed))  # no ticket in two themes, none twice in one


def _by(figures: dict[str, Any], dimension: str) -> dict[str, Any]:
    return {row["key"]: row for row in figures["by"][dimension]}
