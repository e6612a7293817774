"""The dashboard's numbers, for the overview page and `GET /api/v1/stats/` alike.

Two kinds: figures about now (tickets by status, queue depth, open work, overdue tickets), and figures
over a period (today, 7 or 30 days, or custom dates): what was received, who classified it, how fast, how
often people corrected it, and the charts. Every query is bounded: by the period on the indexed `created`
column, by a small status (queued, processing, failed), or by a cap (open work counts stop at `CAP`). The
total uses PostgreSQL's row estimate instead of COUNT(*) over a million rows."""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import formats, timezone
from redis.exceptions import RedisError

from classification.models import Classification
from tickets.models import ACTIVE_STATES, Priority, Sentiment, Source, Status, Ticket
from workers import heartbeat

T = TypeVar("T")

HIGH_RISK = 0.7
# Below this many rows PostgreSQL's estimate is too rough; an exact count is cheap there anyway.
EXACT_COUNT_BELOW = 100_000
# Counts of open work stop here: the page says "10,000+" rather than counting a million open tickets.
CAP = 10_000
# Time to classify is measured over at most this many of the period's newest classified tickets.
TIME_TO_CLASSIFY_SAMPLE = 20_000
AUTOMATIC = [Source.LLM, Source.KEYWORD]
# The period's slow figures (time to classify, the charts) are shared by every open dashboard for this long:
# the stats poll every 5 s and the charts every 30 s, and at a million tickets a 30-day chart costs a second.
PERIOD_CACHE_SECONDS = 30


def _cached(name: str, period: Period, compute: Callable[[], T]) -> T:
    """`compute()`, kept in the shared cache (Redis in production) for PERIOD_CACHE_SECONDS per period. A
    cache that cannot be reached is skipped, never waited on: the figures are computed as without it."""
    key = f"stats:{name}:{period.first.isoformat()}:{period.last.isoformat()}"
    try:
        hit = cache.get(key)
    except RedisError:
        hit = None
    if hit is not None:
        return cast(T, hit)
    value = compute()
    with contextlib.suppress(RedisError):
        cache.set(key, value, PERIOD_CACHE_SECONDS)
    return value


def estimated_total() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Ticket._meta.db_table])
            row = cursor.fetchone()
        if row and row[0] and row[0] >= EXACT_COUNT_BELOW:
            return int(row[0])
    return Ticket.objects.count()


def capped_count(queryset: QuerySet[Any], cap: int) -> int:
    """COUNT over at most `cap` rows (a LIMIT inside the count), so a huge backlog costs no more than `cap`.
    Unordered: any `cap` rows will do, so the database stops at the first it finds instead of sorting."""
    return queryset.order_by().values("pk")[:cap].count()


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    css: str = ""


@dataclass(frozen=True)
class Period:
    """Whole days in the server's time zone, `first` to `last` inclusive. A single day is charted per hour,
    longer periods per day."""

    key: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def hourly(self) -> bool:
        return self.first == self.last

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        if self.key == "today":
            return "Today"
        if self.key in ("7d", "30d"):
            return f"Last {self.days} days"
        if self.hourly:
            return formats.date_format(self.first, "j M Y")
        return f"{formats.date_format(self.first, 'j M')} – {formats.date_format(self.last, 'j M Y')}"

    def buckets(self) -> list[tuple[datetime, str]]:
        """(start, label) of each hour or day of the period, oldest first."""
        if self.hourly:  # wall-clock hours, so a day that changes clocks keeps its labels right
            return [(timezone.make_aware(datetime.combine(self.first, time(h))), f"{h:02d}:00") for h in range(24)]
        days = [self.first + timedelta(days=d) for d in range(self.days)]
        fmt = "D j" if self.days <= 14 else "j M"
        return [(timezone.make_aware(datetime.combine(d, time.min)), formats.date_format(d, fmt)) for d in days]

    def as_dict(self) -> dict[str, Any]:
        return {
            "range": self.key,
            "first_day": self.first.isoformat(),
            "last_day": self.last.isoformat(),
            "label": self.label,
            "step": "hour" if self.hourly else "day",
        }


def default_period() -> Period:
    today = timezone.localdate()
    return Period("7d", today - timedelta(days=6), today)


def _window(period: Period) -> QuerySet[Ticket]:
    return Ticket.objects.filter(created__gte=period.start, created__lt=period.end)


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


def open_work() -> dict[str, int]:
    """Open or pending tickets, those without an assignee, and those past their SLA due time (each capped)."""
    active = Ticket.objects.filter(state__in=ACTIVE_STATES)
    return {
        "open": capped_count(active, CAP),
        "unassigned": capped_count(active.filter(assignee__isnull=True), CAP),
        "overdue": capped_count(active.filter(due_at__lt=timezone.now()), CAP),
        "cap": CAP,
    }


def _nearest_rank(values: list[float], share: float) -> float:
    """The smallest value with at least `share` of the values at or below it (PostgreSQL's percentile_disc)."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


def time_to_classify(period: Period) -> dict[str, Any]:
    """From receipt to the first automatic classification, over the period's classified tickets: the median
    and the 90th percentile in seconds (nearest rank). PostgreSQL computes them over every ticket in one
    aggregate; SQLite, which has no percentile function, over the newest TIME_TO_CLASSIFY_SAMPLE."""
    window = _window(period).filter(first_classified_at__isnull=False)
    if connection.vendor == "postgresql":
        wait = "EXTRACT(EPOCH FROM first_classified_at - created)"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*), PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {wait}), "
                f"PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY {wait}) FROM {Ticket._meta.db_table} "
                "WHERE created >= %s AND created < %s AND first_classified_at IS NOT NULL",
                [period.start, period.end],
            )
            n, median, p90 = cursor.fetchone()
        if not n:
            return {"n": 0, "median_seconds": None, "p90_seconds": None, "sampled": False}
        return {
            "n": n,
            "median_seconds": round(max(0.0, float(median)), 1),
            "p90_seconds": round(max(0.0, float(p90)), 1),
            "sampled": False,
        }
    pairs = window.order_by("-created").values_list("created", "first_classified_at")[:TIME_TO_CLASSIFY_SAMPLE]
    waits = sorted(max(0.0, (done - received).total_seconds()) for received, done in pairs if done is not None)
    if not waits:
        return {"n": 0, "median_seconds": None, "p90_seconds": None, "sampled": False}
    return {
        "n": len(waits),
        "median_seconds": round(_nearest_rank(waits, 0.5), 1),
        "p90_seconds": round(_nearest_rank(waits, 0.9), 1),
        "sampled": len(waits) == TIME_TO_CLASSIFY_SAMPLE,
    }


def corrections(period: Period, categories: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per category, over the tickets received in the period: how many the classifier put there, and how
    many of those people moved to another category (corrected) or kept (confirmed). A high corrected share
    is where the classifier is weakest. Tickets, not history rows: a reclassified ticket counts once."""
    # A classification is never older than its ticket, so `created >= start` on the history (its own
    # (source, created) index) narrows the rows before the join checks the ticket's arrival.
    rows = Classification.objects.filter(
        created__gte=period.start, ticket__created__gte=period.start, ticket__created__lt=period.end
    )
    automatic: dict[str, int] = dict(
        rows.filter(source__in=AUTOMATIC).values_list("category").annotate(n=Count("ticket", distinct=True)).order_by()
    )
    human: dict[str, dict[str, Any]] = {
        row["replaced_category"]: dict(row)
        for row in rows.filter(source=Source.HUMAN)
        .exclude(replaced_category="")
        .values("replaced_category")
        .annotate(
            corrected=Count("ticket", distinct=True, filter=~Q(category=F("replaced_category"))),
            confirmed=Count("ticket", distinct=True, filter=Q(category=F("replaced_category"))),
        )
        .order_by()
    }
    figures = []
    for slug, name in categories:
        answers = automatic.get(slug, 0)
        corrected = human.get(slug, {}).get("corrected", 0)
        figures.append(
            {
                "category": slug,
                "label": name,
                "automatic": answers,
                "corrected": corrected,
                "confirmed": human.get(slug, {}).get("confirmed", 0),
                "corrected_share": round(100 * corrected / answers) if answers else None,
            }
        )
    return figures


def period_summary(period: Period) -> dict[str, Any]:
    """What the period's tickets were: received, classified by whom, confidence, high risk, time to classify."""
    classified = Q(status=Status.CLASSIFIED)
    # COUNT(created), not COUNT(id): every column read is in `ticket_window_cov_idx`, so PostgreSQL answers
    # from the index alone.
    figures = _window(period).aggregate(
        received=Count("created"),
        classified=Count("created", filter=classified),
        llm=Count("created", filter=classified & Q(classification_source=Source.LLM)),
        keyword=Count("created", filter=classified & Q(classification_source=Source.KEYWORD)),
        human=Count("created", filter=classified & Q(classification_source=Source.HUMAN)),
        confidence=Avg("confidence", filter=classified),
        high_risk=Count("created", filter=classified & Q(risk__gte=HIGH_RISK)),
        resolved=Count("created", filter=Q(state="resolved")),
    )
    # Confirmed duplicates are one request written twice: received counts it once. (A separate count over a
    # handful of rows, `ticket_duplicate_idx`, so the aggregate above stays an index-only scan.)
    figures["duplicates"] = _window(period).filter(duplicate_of__isnull=False).count()
    figures["received"] -= figures["duplicates"]
    automatic = figures["llm"] + figures["keyword"]
    figures["llm_share"] = round(100 * figures["llm"] / automatic) if automatic else None
    figures["keyword_share"] = 100 - figures["llm_share"] if automatic else None
    figures["time_to_classify"] = _cached("time_to_classify", period, lambda: time_to_classify(period))
    return figures


def _bars(counts: dict[str, int], order: list[tuple[str, str]], css_prefix: str) -> list[Bar]:
    known = {key for key, _ in order}
    extra = [(key, key) for key in sorted(counts) if key and key not in known]
    return [Bar(label, counts.get(key, 0), f"{css_prefix}{key}") for key, label in [*order, *extra]]


def charts(period: Period, categories: list[tuple[str, str]]) -> dict[str, Any]:
    """The period's charts (`_charts`), shared through the cache for PERIOD_CACHE_SECONDS."""
    taxonomy = hashlib.sha1(repr(categories).encode()).hexdigest()[:12]  # a renamed category is a new entry
    return _cached(f"charts:{taxonomy}", period, lambda: _charts(period, categories))


def _charts(period: Period, categories: list[tuple[str, str]]) -> dict[str, Any]:
    """Every chart of the period from one grouped scan of its tickets: volume per hour or day, a trend line
    per category, and the split by category, priority and sentiment. The bucket is a CASE over the bucket
    boundaries (no per-row date function, which SQLite would run in Python), so it is the same on both
    databases and follows the server's time zone."""
    buckets = period.buckets()
    bucket = Case(
        *[When(created__lt=start, then=Value(index - 1)) for index, (start, _) in enumerate(buckets) if index > 0],
        default=Value(len(buckets) - 1),
        output_field=IntegerField(),
    )

    def grouped(tickets: QuerySet[Ticket]) -> list[tuple[int, str, str, str, int]]:
        rows = tickets.annotate(bucket=bucket).values_list("bucket", "category", "priority", "sentiment")
        return list(rows.annotate(n=Count("*")).order_by())

    # Confirmed duplicates (a handful, from their own index) are taken off: one request is counted once.
    duplicates = grouped(_window(period).filter(duplicate_of__isnull=False))
    groups = [*grouped(_window(period)), *((b, c, p, s, -n) for b, c, p, s, n in duplicates)]
    volume = [0] * len(buckets)
    trends: dict[str, list[int]] = {slug: [0] * len(buckets) for slug, _ in categories}
    by_category: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    by_sentiment: dict[str, int] = {}
    for index, category, priority, sentiment, n in groups:
        volume[index] += n
        if category:
            trends.setdefault(category, [0] * len(buckets))[index] += n
            by_category[category] = by_category.get(category, 0) + n
        if priority:
            by_priority[priority] = by_priority.get(priority, 0) + n
        if sentiment:
            by_sentiment[sentiment] = by_sentiment.get(sentiment, 0) + n
    names = dict(categories)
    return {
        "volume": [Bar(label, volume[index]) for index, (_, label) in enumerate(buckets)],
        "bucket_labels": [label for _, label in buckets],
        "trends": [
            {"category": slug, "label": names.get(slug, slug), "values": values}
            for slug, values in trends.items()
            if slug in names or any(values)
        ],
        "categories": _bars(by_category, categories, "cat-"),
        "priorities": _bars(by_priority, list(Priority.choices), "prio-"),
        "sentiments": _bars(by_sentiment, list(Sentiment.choices), "sent-"),
        "corrections": corrections(period, categories),
    }


def overview(period: Period | None = None) -> dict[str, Any]:
    """The overview's cards: now (status counts, queue, workers, open work) and over the period."""
    period = period or default_period()
    counts = status_counts()
    return {
        "counts": counts,
        "queue_depth": counts[Status.QUEUED] + counts[Status.PROCESSING],
        "workers": len(heartbeat.alive()),
        "work": open_work(),
        "period": period.as_dict(),
        "summary": period_summary(period),
    }
