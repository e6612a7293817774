"""Analysis runs: a period's tickets (with optional filters) read in chunks on the workers, their partial
figures stored per chunk, then combined with themes, trends and an executive summary."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

from tickets import stats


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Trigger(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard"
    API = "api", "API"
    COMMAND = "command", "Command"
    SCHEDULE = "schedule", "Schedule"


FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
UNFINISHED = (RunStatus.PENDING, RunStatus.RUNNING)


class AnalysisRunQuerySet(models.QuerySet["AnalysisRun"]):
    """A run's state machine: the only code that writes `status`.

        pending --start--> running --complete--> completed
           |                  |'-----fail------> failed
           '------------------'-----cancel-----> cancelled

    Each transition is one conditional UPDATE over the rows still in the state it starts from and returns
    how many changed, so a cancel racing the reduce ends in exactly one of cancelled or completed."""

    def start(self, *, chunks: int, total: int, now: datetime | None = None) -> int:
        return self.filter(status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING, chunks_total=chunks, total=total, started=now or timezone.now()
        )

    def claim_reduce(self, *, stale_before: datetime, now: datetime | None = None) -> int:
        """The reduce is taken by one worker at a time; a claim older than `stale_before` (its worker died)
        may be taken over."""
        free = Q(reduce_claimed__isnull=True) | Q(reduce_claimed__lt=stale_before)
        return self.filter(free, status=RunStatus.RUNNING).update(reduce_claimed=now or timezone.now())

    def complete(self, *, results: dict[str, Any], summary: dict[str, Any], now: datetime | None = None) -> int:
        return self.filter(status=RunStatus.RUNNING).update(
            status=RunStatus.COMPLETED, results=results, summary=summary, finished=now or timezone.now()
        )

    def fail(self, error: str) -> int:
        return self.filter(status__in=UNFINISHED).update(
            status=RunStatus.FAILED, error=error[:2000], finished=timezone.now()
        )

    def cancel(self) -> int:
        return self.filter(status__in=UNFINISHED).update(status=RunStatus.CANCELLED, finished=timezone.now())


class AnalysisRun(models.Model):
    # The period: whole days in the server's time zone, first to last inclusive (tickets.stats.Period).
    first_day = models.DateField()
    last_day = models.DateField()
    # {"category": slug, "team": slug, "priority": ..., "channel": ...} (analysis.services.FILTERS).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.DASHBOARD)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    # When a worker took the reduce (None: nobody has); see AnalysisRunQuerySet.claim_reduce.
    reduce_claimed = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=dict, blank=True)
    # {"source": "llm"|"template", "fallback_reason": ..., "sections": [...], "dropped_claims": n, ...}
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = AnalysisRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The sweep: runs still pending or running, oldest first.
            models.Index(fields=["status", "created"], name="analysisrun_status_idx"),
        ]

    def __str__(self) -> str:
        return f"analysis #{self.pk} {self.first_day}..{self.last_day} ({self.status})"

    @property
    def period(self) -> stats.Period:
        return stats.Period("custom", _as_date(self.first_day), _as_date(self.last_day))

    @property
    def previous_period(self) -> stats.Period:
        """The period of the same length just before this one (the trends' baseline)."""
        days = self.period.days
        return stats.Period(
            "custom",
            date.fromordinal(_as_date(self.first_day).toordinal() - days),
            date.fromordinal(_as_date(self.first_day).toordinal() - 1),
        )

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status == RunStatus.COMPLETED:
            return 100
        return min(100, round(100 * self.processed / self.total)) if self.total else 0

    def refresh_progress(self) -> int:
        """`processed` from the chunk rows: a chunk run twice overwrote its own row, so it counts once."""
        processed = self.chunks.aggregate(n=Sum("processed"))["n"] or 0
        AnalysisRun.objects.filter(pk=self.pk).update(processed=processed)
        self.processed = processed
        return processed


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class AnalysisChunk(models.Model):
    """One chunk of a run, planned at start, and its partial figures once mapped. Keyed (run, index): a
    redelivered chunk overwrites its own row, so it is never counted twice."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    # The chunk is the run's tickets with first_id <= id <= last_id (keyset ranges planned at start).
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    processed = models.PositiveIntegerField(default=0)
    figures = models.JSONField(default=dict, blank=True)
    # When its figures were stored (None: not yet). Planned rows exist from the start, so the sweep
    # knows which chunks to publish again.
    done = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="analysischunk_unique_index")]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.index}"
