"""Analysis runs: start, plan, map each chunk, reduce, cancel, and the sweep that finishes what a dead
worker left (STYLE §4: flows here, tasks thin).

The flow, each step its own task message:

    start_run ──on commit──> plan_run: the period's tickets cut into keyset ranges of ANALYSIS_CHUNK_SIZE ids,
                             one AnalysisChunk row each, the run `running`, one map message per chunk (a group)
    map_chunk (×N, parallel): the chunk's figures stored in its own row (overwritten if redelivered); the
                             chunk that finds every row done publishes the reduce
    reduce_run:              claimed by one worker; figures combined from the rows, themes and trends over a
                             bounded sample of texts, the summary; the run `completed`

There is no chord: results are ignored and no result backend is configured (CELERY_RESULT_BACKEND = None),
which a chord needs. The last chunk starts the reduce instead, and `sweep` (beat) publishes again what a
lost message or a dead worker left: planned chunks never mapped, and a reduce never finished."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from analysis import figures, reports, themes
from analysis.models import AnalysisChunk, AnalysisRun, RunStatus, Trigger
from tickets import stats
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# The filters a run takes, each a Ticket field of the same name.
FILTERS = ("category", "team", "priority", "channel")
# Texts read for the themes in one query.
TEXT_BATCH = 2000
# Characters of a ticket (subject and body) the themes read: the opening says what it is about.
TEXT_CHARS = 1000


class InvalidRun(ValueError):
    """The period or the filters cannot be analysed (the message says why)."""


def _incidents_installed() -> bool:
    # With the incidents app installed (it is, in this project), a run may be filtered by one incident
    # (`_filtered` keeps the tickets linked to it) and its report lists the period's incidents.
    return apps.is_installed("incidents")


def clean_filters(filters: Mapping[str, Any]) -> dict[str, str]:
    """The run's filters, blank ones left out. Raises InvalidRun for an unknown one."""
    known = (*FILTERS, "incident") if _incidents_installed() else FILTERS
    unknown = sorted(set(filters) - set(known))
    if "incident" in unknown:
        raise InvalidRun("the incident filter needs the incidents app, which is not installed")
    if unknown:
        raise InvalidRun(f"unknown filter: {', '.join(unknown)}")
    cleaned = {name: str(value) for name, value in filters.items() if value not in (None, "")}
    if "incident" in cleaned:
        incident_model = apps.get_model("incidents", "Incident")
        if not cleaned["incident"].isdigit() or not incident_model.objects.filter(pk=cleaned["incident"]).exists():
            raise InvalidRun(f"no incident #{cleaned['incident']}")
    return cleaned


def _filtered(tickets: QuerySet[Ticket], filters: Mapping[str, str]) -> QuerySet[Ticket]:
    for name in FILTERS:
        if filters.get(name):
            tickets = tickets.filter(**{name: filters[name]})
    if filters.get("incident"):
        # A ticket belongs to one incident at most (incidents.IncidentTicket, `incident_link`).
        tickets = tickets.filter(**{"incident_link__incident_id": filters["incident"]})
    return tickets


def tickets_of(run: AnalysisRun, period: stats.Period | None = None) -> QuerySet[Ticket]:
    """The run's tickets: received in its period (or `period`) and matching its filters."""
    period = period or run.period
    window = Ticket.objects.filter(created__gte=period.start, created__lt=period.end)
    return _filtered(window, run.filters)


def start_run(
    first_day: date,
    last_day: date,
    filters: Mapping[str, Any] | None = None,
    *,
    trigger: str = Trigger.DASHBOARD,
    user: User | None = None,
    publish: bool = True,
) -> AnalysisRun:
    """A new pending run; its plan is published once the row is committed (unless `publish` is False: the
    caller runs it, see run_inline)."""
    if last_day < first_day:
        raise InvalidRun("the last day is before the first")
    if (last_day - first_day).days + 1 > settings.ANALYSIS_MAX_DAYS:
        raise InvalidRun(f"a run covers at most {settings.ANALYSIS_MAX_DAYS} days")
    run = AnalysisRun.objects.create(
        first_day=first_day,
        last_day=last_day,
        filters=clean_filters(filters or {}),
        trigger=trigger,
        started_by=user if user is not None and user.is_authenticated else None,
    )
    if publish:
        transaction.on_commit(lambda: _publish("plan", run.pk), robust=True)
    logger.info("analysis %s: started for %s..%s (%s)", run.pk, first_day, last_day, trigger)
    return run


def last_week() -> tuple[date, date]:
    """The seven days before today (the dashboard's default and the weekly run's period)."""
    today = timezone.localdate()
    return today - timedelta(days=7), today - timedelta(days=1)


def default_period(incident: str = "") -> tuple[date, date]:
    """A run's period when none is given: the incident's days (first seen to its close, or today), as many as
    a run may cover from its last, when the run is about one; otherwise last week."""
    if incident and incident.isdigit() and _incidents_installed():
        found = apps.get_model("incidents", "Incident").objects.filter(pk=incident).first()
        if found is not None:
            last = timezone.localdate(found.closed_at) if found.closed_at else timezone.localdate()
            first = max(timezone.localdate(found.first_seen), last - timedelta(days=settings.ANALYSIS_MAX_DAYS - 1))
            return first, last
    return last_week()


# True while run_inline drives the steps itself.
_inline: contextvars.ContextVar[bool] = contextvars.ContextVar("analysis_inline", default=False)


def _publish(step: str, run_id: int, index: int | None = None) -> None:
    if _inline.get():
        return
    from analysis import tasks  # services → tasks only to enqueue (the tasks import this module)

    tasks.publish(step, run_id, index)


def _boundaries(tickets: QuerySet[Ticket], size: int) -> list[tuple[int, int, int]]:
    """(first id, last id, count) of each chunk: the tickets by id, `size` at a time, read by keyset (the
    next chunk starts after the last id), so planning holds one chunk's ids at most."""
    chunks: list[tuple[int, int, int]] = []
    after = 0
    ordered = tickets.order_by("pk").values_list("pk", flat=True)
    while True:
        ids = list(ordered.filter(pk__gt=after)[:size])
        if not ids:
            return chunks
        chunks.append((ids[0], ids[-1], len(ids)))
        after = ids[-1]


def plan_run(run_id: int) -> None:
    """Cut a pending run into chunks and publish them. A redelivered plan finds the run running and does
    nothing (the sweep publishes chunks that never went out)."""
    run = AnalysisRun.objects.filter(pk=run_id, status=RunStatus.PENDING).first()
    if run is None:
        logger.info("analysis %s: not pending, nothing to plan", run_id)
        return
    planned = _boundaries(tickets_of(run), settings.ANALYSIS_CHUNK_SIZE)
    with transaction.atomic():
        run.chunks.all().delete()
        AnalysisChunk.objects.bulk_create(
            AnalysisChunk(run=run, index=index, first_id=first, last_id=last)
            for index, (first, last, _) in enumerate(planned)
        )
        if not AnalysisRun.objects.filter(pk=run.pk).start(chunks=len(planned), total=sum(n for *_, n in planned)):
            transaction.set_rollback(True)  # cancelled meanwhile
            return
    logger.info("analysis %s: %d tickets in %d chunks", run.pk, sum(n for *_, n in planned), len(planned))
    if not planned:
        _publish("reduce", run.pk)
    for index in range(len(planned)):
        _publish("map", run.pk, index)


def map_chunk(run_id: int, index: int) -> None:
    """Store one chunk's figures in its row (overwriting an earlier run of the same chunk); the chunk that
    finds every row done publishes the reduce."""
    run = AnalysisRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).first()
    chunk = AnalysisChunk.objects.filter(run_id=run_id, index=index).first()
    if run is None or chunk is None:
        logger.info("analysis %s chunk %s: run not running, skipped", run_id, index)
        return
    part = figures.for_tickets(tickets_of(run).filter(pk__gte=chunk.first_id, pk__lte=chunk.last_id))
    now = timezone.now()
    AnalysisChunk.objects.filter(pk=chunk.pk).update(figures=part, processed=part["count"], done=now, updated=now)
    run.refresh_progress()
    if not run.chunks.filter(done__isnull=True).exists():
        _publish("reduce", run.pk)


def reduce_run(run_id: int) -> None:
    """Combine a run's chunks, find its themes and trends, write its summary, complete it. Only one
    worker reduces a run at a time (a claim); a run still missing chunks waits for the sweep."""
    stale = timezone.now() - timedelta(seconds=settings.ANALYSIS_REDUCE_STALE_SECONDS)
    if not AnalysisRun.objects.filter(pk=run_id).claim_reduce(stale_before=stale):
        logger.info("analysis %s: reduce already taken or run not running", run_id)
        return
    run = AnalysisRun.objects.get(pk=run_id)
    try:
        if run.chunks.filter(done__isnull=True).exists():
            logger.info("analysis %s: chunks still missing, the sweep will come back", run_id)
            AnalysisRun.objects.filter(pk=run_id).update(reduce_claimed=None)
            return
        results = _results(run)
        summary = reports.summarize(run, results)
    except Exception as exc:
        AnalysisRun.objects.filter(pk=run_id).fail(f"{type(exc).__name__}: {exc}")
        raise
    if AnalysisRun.objects.filter(pk=run_id).complete(results=results, summary=summary):
        run.refresh_progress()
        logger.info("analysis %s: completed, %d themes", run_id, len(results["themes"]))
    else:
        logger.info("analysis %s: cancelled while reducing, results dropped", run_id)


def _results(run: AnalysisRun) -> dict[str, Any]:
    combined = figures.combine(chunk.figures for chunk in run.chunks.all())
    previous = figures.for_tickets(tickets_of(run, run.previous_period))
    found = themes.find(_documents(run), scale=combined["count"])
    return {
        "period": run.period.as_dict(),
        "previous_period": run.previous_period.as_dict(),
        "figures": figures.shares(combined),
        "previous": {"count": previous["count"], "by": figures.shares(previous)["by"]},
        "risky": [{"id": pk, "risk": risk} for pk, risk in combined["top_risk"]],
        "incidents": _incidents(run),
        "themes": found.themes,
        "faded": found.faded,
        "clustering": found.about,
    }


def _incidents(run: AnalysisRun) -> list[dict[str, Any]]:
    """The incidents under way during the period: opened before its end, and open still or closed after its
    start (newest first, at most 20)."""
    if not _incidents_installed():
        return []
    incident_model = apps.get_model("incidents", "Incident")
    period = run.period
    during = incident_model.objects.filter(first_seen__lt=period.end).exclude(closed_at__lt=period.start)
    rows = during.order_by("-last_seen").values(
        "pk", "title", "status", "ticket_count", "customer_count", "first_seen", "last_seen"
    )[:20]
    return [
        {
            "id": row["pk"],
            **{key: row[key] for key in ("title", "status", "ticket_count", "customer_count")},
            "first_seen": row["first_seen"].isoformat(),
            "last_seen": row["last_seen"].isoformat(),
        }
        for row in rows
    ]


def _sample_ids(tickets: QuerySet[Ticket], limit: int) -> list[int]:
    """At most `limit` of these tickets' ids, spread evenly over them (every n-th by id), read by keyset."""
    count = tickets.count()
    if not count:
        return []
    step = max(1, -(-count // limit))
    chosen: list[int] = []
    for position, pk in enumerate(tickets.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=5000)):
        if position % step == 0:
            chosen.append(pk)
    return chosen[:limit]


def _documents(run: AnalysisRun) -> list[themes.Document]:
    """The texts the themes are found in: up to ANALYSIS_THEME_SAMPLE of the run's tickets and half as many
    from the previous period (so themes can be new, growing, shrinking or faded), fetched in batches."""
    limit = settings.ANALYSIS_THEME_SAMPLE
    current = _sample_ids(tickets_of(run), limit)
    previous = _sample_ids(tickets_of(run, run.previous_period), limit // 2)
    documents: list[themes.Document] = []
    for ids, is_current in ((current, True), (previous, False)):
        for start in range(0, len(ids), TEXT_BATCH):
            rows = Ticket.objects.filter(pk__in=ids[start : start + TEXT_BATCH]).values_list(
                "pk", "subject", "body", "priority", "sentiment", "risk"
            )
            documents.extend(
                themes.Document(pk, f"{subject}\n{body}"[:TEXT_CHARS], priority, sentiment, risk, is_current)
                for pk, subject, body, priority, sentiment, risk in rows
            )
    return documents


def cancel_run(run: AnalysisRun) -> bool:
    """Cancel a pending or running run: its chunks and reduce then stop at their next check."""
    cancelled = AnalysisRun.objects.filter(pk=run.pk).cancel() == 1
    run.refresh_from_db()
    return cancelled


def sweep() -> dict[str, int]:
    """Publish again what lost messages or dead workers left: plans of runs pending too long, chunks
    planned but not done for ANALYSIS_CHUNK_STALE_SECONDS, reduces of runs whose chunks are all done."""
    now = timezone.now()
    chunk_stale = now - timedelta(seconds=settings.ANALYSIS_CHUNK_STALE_SECONDS)
    counts = {"plans": 0, "chunks": 0, "reduces": 0}
    for run in AnalysisRun.objects.filter(status=RunStatus.PENDING, created__lt=chunk_stale):
        _publish("plan", run.pk)
        counts["plans"] += 1
    for run in AnalysisRun.objects.filter(status=RunStatus.RUNNING):
        late = list(run.chunks.filter(done__isnull=True, updated__lt=chunk_stale).values_list("index", flat=True))
        AnalysisChunk.objects.filter(run=run, index__in=late).update(updated=now)
        for index in late:
            _publish("map", run.pk, index)
        counts["chunks"] += len(late)
        if not run.chunks.filter(done__isnull=True).exists():
            _publish("reduce", run.pk)  # a duplicate finds the reduce claimed and does nothing
            counts["reduces"] += 1
    return counts


def run_inline(run_id: int) -> None:
    """Every step of a run in this process, in order (the command's --inline): the same functions the
    workers call, with nothing published."""
    token = _inline.set(True)
    try:
        plan_run(run_id)
        for index in range(AnalysisRun.objects.get(pk=run_id).chunks_total):
            map_chunk(run_id, index)
        reduce_run(run_id)
    finally:
        _inline.reset(token)
