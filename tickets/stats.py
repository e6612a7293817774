"""The dashboard's numbers. Every query is bounded: by a time window on the indexed `created` column,
or by a small status (queued, processing, failed). The total uses PostgreSQL's row estimate instead of
COUNT(*) over a million rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, Q
from django.utils import timezone

from tickets.models import Priority, Sentiment, Source, Status, Ticket
from workers import heartbeat

HIGH_RISK = 0.7
# Below this many rows PostgreSQL's estimate is too rough; an exact count is cheap there anyway.
EXACT_COUNT_BELOW = 100_000


def estimated_total() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Ticket._meta.db_table])
            row = cursor.fetchone()
        if row and row[0] and row[0] >= EXACT_COUNT_BELOW:
            return int(row[0])
    return Ticket.objects.count()


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    css: str = ""


def _since(hours: int) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def status_counts() -> dict[str, int]:
    small: dict[str, int] = dict(
        Ticket.objects.filter(status__in=[Status.QUEUED, Status.PROCESSING, Status.FAILED])
        .values_list("status")
        .annotate(n=Count("id"))
    )
    counts: dict[str, int] = {
        status: small.get(status, 0) for status in (Status.QUEUED, Status.PROCESSING, Status.FAILED)
    }
    total = estimated_total()
    counts[Status.CLASSIFIED] = max(0, total - sum(counts.values()))
    counts["total"] = total
    return counts


def recent_summary(hours: int = 24) -> dict[str, Any]:
    """LLM vs keyword share, average confidence and high-risk count over the recent window."""
    recent = Ticket.objects.filter(created__gte=_since(hours), status=Status.CLASSIFIED)
    figures = recent.aggregate(
        n=Count("id"),
        llm=Count("id", filter=Q(classification_source=Source.LLM)),
        keyword=Count("id", filter=Q(classification_source=Source.KEYWORD)),
        human=Count("id", filter=Q(classification_source=Source.HUMAN)),
        confidence=Avg("confidence"),
        high_risk=Count("id", filter=Q(risk__gte=HIGH_RISK)),
    )
    automatic = figures["llm"] + figures["keyword"]
    figures["llm_share"] = round(100 * figures["llm"] / automatic) if automatic else None
    figures["keyword_share"] = 100 - figures["llm_share"] if automatic else None
    return figures


def _week_groups(since: datetime) -> list[tuple[str, str, str, int]]:
    """(category, priority, sentiment, count) over the window: one scan serves three charts."""
    return list(
        Ticket.objects.filter(created__gte=since, status=Status.CLASSIFIED)
        .values_list("category", "priority", "sentiment")
        .annotate(n=Count("*"))  # COUNT(*), not COUNT(id): PostgreSQL can then answer from the covering index
        .order_by()
    )


def _bars(groups: list[tuple[str, str, str, int]], column: int, order: list[str], css_prefix: str) -> list[Bar]:
    counts: dict[str, int] = {}
    for row in groups:
        label = str(row[column])
        counts[label] = counts.get(label, 0) + row[3]
    labels = order + sorted(label for label in counts if label not in order and label)
    return [Bar(label or "—", counts.get(label, 0), f"{css_prefix}{label}") for label in labels]


def _volume(step: timedelta, buckets: int, fmt: str) -> list[Bar]:
    """Tickets received per bucket, oldest first: conditional counts in one query over the indexed
    `created` range (no per-row date function, which SQLite would run in Python)."""
    now = timezone.localtime()
    if step >= timedelta(days=1):
        last = now.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        last = now.replace(minute=0, second=0, microsecond=0)
    starts = [last - step * (buckets - 1 - index) for index in range(buckets)]
    counts = Ticket.objects.filter(created__gte=starts[0]).aggregate(
        **{
            f"b{i}": Count("id", filter=Q(created__gte=start, created__lt=start + step))
            for i, start in enumerate(starts)
        }
    )
    return [Bar(start.strftime(fmt), counts[f"b{i}"]) for i, start in enumerate(starts)]


def charts(category_order: list[str]) -> dict[str, list[Bar]]:
    groups = _week_groups(_since(24 * 7))
    return {
        "categories": _bars(groups, 0, category_order, "cat-"),
        "priorities": _bars(groups, 1, [p.value for p in Priority], "prio-"),
        "sentiments": _bars(groups, 2, [s.value for s in Sentiment], "sent-"),
        "per_hour": _volume(timedelta(hours=1), 24, "%H:00"),
        "per_day": _volume(timedelta(days=1), 7, "%a %d"),
    }


def overview() -> dict[str, Any]:
    counts = status_counts()
    return {
        "counts": counts,
        "queue_depth": counts[Status.QUEUED] + counts[Status.PROCESSING],
        "workers": len(heartbeat.alive()),
        "recent": recent_summary(),
    }
