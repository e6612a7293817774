"""Thin Celery tasks for analysis runs: each calls one service function (analysis.services)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from analysis import services
from supportintel import publishing

logger = logging.getLogger(__name__)


@shared_task(name="analysis.plan_run", ignore_result=True, acks_late=True)
def plan_run_task(run_id: int) -> None:
    services.plan_run(run_id)


@shared_task(name="analysis.map_chunk", ignore_result=True, acks_late=True)
def map_chunk_task(run_id: int, index: int) -> None:
    services.map_chunk(run_id, index)


# The reduce clusters up to ANALYSIS_THEME_SAMPLE texts: it gets its own, longer, time limits.
@shared_task(
    name="analysis.reduce_run",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.ANALYSIS_REDUCE_SOFT_TIME_LIMIT,
    time_limit=settings.ANALYSIS_REDUCE_SOFT_TIME_LIMIT + 60,
)
def reduce_run_task(run_id: int) -> None:
    services.reduce_run(run_id)


@shared_task(name="analysis.sweep_runs", ignore_result=True)
def sweep_runs_task() -> None:
    counts = services.sweep()
    if any(counts.values()):
        logger.info("analysis sweep: published again %s", counts)


@shared_task(name="analysis.weekly_run", ignore_result=True)
def weekly_run_task() -> None:
    """The scheduled run: the seven days before today, no filters."""
    from analysis.models import Trigger

    first, last = services.last_week()
    services.start_run(first, last, trigger=Trigger.SCHEDULE)


_STEPS: dict[str, Any] = {"plan": plan_run_task, "map": map_chunk_task, "reduce": reduce_run_task}


def publish(step: str, run_id: int, index: int | None = None) -> None:
    """Publish one step of a run. A broker that does not take it is logged: the sweep publishes again
    whatever is left undone (a pending plan, an undone chunk, a reduce)."""
    task = _STEPS[step]
    args = (run_id,) if index is None else (run_id, index)
    try:
        publishing.call(lambda: task.apply_async(args=args), what=f"publishing analysis {step} {args}")
    except publishing.BrokerUnavailable as exc:
        logger.warning("analysis %s: %s left for the sweep (%s)", run_id, step, exc)
