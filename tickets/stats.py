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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Avg, Case, Count, F, IntegerField, Q, QuerySet, Sum, TextChoices, Value, When
from django.utils import formats, timezone
from redis.exceptions import RedisError

from classification.models import Classification
from tickets.models import ACTIVE_STATES, Channel, Priority, Sentiment, Source, Status, Ticket
from workers import heartbeat

T = TypeVar("T")

HIGH_RISK = 0.7
# Below this many rows PostgreSQL's estimate is too rough; an exact count is cheap there anyway.
EXACT_COUNT_BELOW = 100_000
# Counts of open work stop here: the page says "10,000+" rather than counting a million open tickets.
CAP = 10_000
# Time to classify is measured over at most this many of the period's newest classified tickets.
TIME_TO_CLASSIFY_SAMPLE = 20_000
AUTOMATIC = [Source.LLM, Source.LLM_FALLBACK, Source.LEARNED, Source.KEYWORD]
# The period's slow figures (time to classify, the charts) are shared by every open dashboard for this long:
# the stats poll every 5 s and the charts every 30 s, and at a million tickets a 30-day chart costs a second.
PERIOD_CACHE_SECONDS = 30
# Periods of up to this many days are also counted per hour (72 hours); longer ones per day only. At a million
# tickets hours cost little over days up to here, and a week of them three times what its days do.
HOURLY_MAX_DAYS = 3


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
    key: str = ""  # the value counted (a category's slug, a priority, a team …)


@dataclass(frozen=True)
class Slot:
    """One hour or day of the period's volume: its start (server time zone), label and ticket count."""

    start: datetime
    label: str
    value: int


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
    def per_hour(self) -> bool:
        """Whether the period's volume is also counted per hour (HOURLY_MAX_DAYS)."""
        return self.days <= HOURLY_MAX_DAYS

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
        """(start, label) of each hour (a single day) or day of the period, oldest first: the charts' steps."""
        return self.hour_buckets() if self.hourly else self.day_buckets()

    def _dates(self) -> list[date]:
        return [self.first + timedelta(days=d) for d in range(self.days)]

    def day_buckets(self) -> list[tuple[datetime, str]]:
        fmt = "D j" if self.days <= 14 else "j M"
        return [
            (timezone.make_aware(datetime.combine(d, time.min)), formats.date_format(d, fmt)) for d in self._dates()
        ]

    def hour_buckets(self) -> list[tuple[datetime, str]]:
        """24 per day; wall-clock hours, so a day that changes clocks keeps its labels right (the hour the
        clocks skip is empty, the one they repeat counts twice)."""
        return [
            (
                timezone.make_aware(datetime.combine(d, time(h))),
                f"{h:02d}:00" if self.hourly else f"{formats.date_format(d, 'D j')} {h:02d}:00",
            )
            for d in self._dates()
            for h in range(24)
        ]

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
        llm_fallback=Count("created", filter=classified & Q(classification_source=Source.LLM_FALLBACK)),
        learned=Count("created", filter=classified & Q(classification_source=Source.LEARNED)),
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
    # The LLM's share counts the answers of either model (the fallback model's are also `llm_fallback`).
    automatic = figures["llm"] + figures["llm_fallback"] + figures["learned"] + figures["keyword"]
    answered = figures["llm"] + figures["llm_fallback"]
    figures["llm_share"] = round(100 * answered / automatic) if automatic else None
    figures["learned_share"] = round(100 * figures["learned"] / automatic) if automatic else None
    figures["keyword_share"] = 100 - figures["llm_share"] - figures["learned_share"] if automatic else None
    figures["time_to_classify"] = _cached("time_to_classify", period, lambda: time_to_classify(period))
    return figures


def _bars(counts: dict[str, int], order: list[tuple[str, str]], css_prefix: str) -> list[Bar]:
    known = {key for key, _ in order}
    extra = [(key, key) for key in sorted(counts) if key and key not in known]
    return [Bar(label, counts.get(key, 0), f"{css_prefix}{key}", key) for key, label in [*order, *extra]]


def charts(period: Period, categories: list[tuple[str, str]]) -> dict[str, Any]:
    """The period's charts (`_charts`), shared through the cache for PERIOD_CACHE_SECONDS."""
    taxonomy = hashlib.sha1(repr(categories).encode()).hexdigest()[:12]  # a renamed category is a new entry
    # v2: the charts gained teams, sources, channels, averages and per-hour/per-day volume; a web process of this
    # version must not read the 30-second entry of an older one (sharing the cache during a deploy).
    return _cached(f"charts:v2:{taxonomy}", period, lambda: _charts(period, categories))


# The charts' splits by a field with fixed choices: a filtered COUNT per choice in the one scan (a column per
# value, not a GROUP BY column, so the scan's rows do not multiply with every split).
_SPLITS: dict[str, tuple[str, type[TextChoices], str]] = {
    "priorities": ("priority", Priority, "prio-"),
    "sentiments": ("sentiment", Sentiment, "sent-"),
    "sources": ("classification_source", Source, "src-"),
    "channels": ("channel", Channel, "chan-"),
}
_AVERAGED = ("risk", "confidence")


def _bucket(starts: list[datetime], low: int, high: int) -> Case | Value:
    """The index of the bucket a row's `created` falls in, among starts[low:high]: a binary search written as
    nested CASEs, so a row costs log2(buckets) comparisons (8 for a week's 168 hours) instead of one per
    bucket. No per-row date function (SQLite would run it in Python): the same on both databases, and
    in the server's time zone."""
    if high - low == 1:
        return Value(low)
    middle = (low + high) // 2
    return Case(
        When(created__lt=starts[middle], then=_bucket(starts, low, middle)),
        default=_bucket(starts, middle, high),
        output_field=IntegerField(),
    )


def _negated(row: dict[str, Any]) -> dict[str, Any]:
    """A group's counts and sums taken away (its bucket, category and team kept)."""
    return {
        key: -value if key not in ("bucket", "category", "team") and isinstance(value, (int, float)) else value
        for key, value in row.items()
    }


def _scan(period: Period, starts: list[datetime], *, duplicates: bool = False) -> list[dict[str, Any]]:
    """The period's tickets (only its confirmed duplicates, with `duplicates`) grouped by bucket, category and
    team (a team follows its category, bar the escalations), each group with its count per choice of every
    split and the sums behind the averages."""
    classified = Q(status=Status.CLASSIFIED)
    columns: dict[str, Any] = {
        f"{name}_{index}": Count("created", filter=Q(**{field: value}))
        for name, (field, choices, _) in _SPLITS.items()
        for index, value in enumerate(choices.values)
    }
    for field in _AVERAGED:
        columns[f"{field}_sum"] = Sum(field, filter=classified)
        columns[f"{field}_n"] = Count(field, filter=classified)
    tickets = _window(period).filter(duplicate_of__isnull=False) if duplicates else _window(period)
    groups = (
        tickets.annotate(bucket=_bucket(starts, 0, len(starts)))
        .values("bucket", "category", "team")
        .annotate(n=Count("created"), **columns)
        .order_by()
    )
    if duplicates:  # a handful of rows from their own index: nothing to sort or hash
        return cast(list[dict[str, Any]], list(groups))
    with _hashed_groups():
        return cast(list[dict[str, Any]], list(groups))


@contextlib.contextmanager
def _hashed_groups() -> Iterator[None]:
    """PostgreSQL takes a GROUP BY over an expression of `created` (the bucket) to have as many groups as
    the period has rows, so it sorts the rows (on disk, past work_mem) instead of hashing them into the few
    hundred groups there are: at a million tickets, 0.55 s for 30 days instead of 0.25 s. Sorting is turned
    off for this one query (the index range scan needs none), then back to the default."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        try:
            yield
        finally:
            cursor.execute("SET LOCAL enable_sort TO DEFAULT")


def _per_day(values: list[int], hourly: bool) -> list[int]:
    return [sum(values[i : i + 24]) for i in range(0, len(values), 24)] if hourly else values


def _average(sums: dict[str, float], field: str) -> float | None:
    return round(sums[f"{field}_sum"] / sums[f"{field}_n"], 3) if sums[f"{field}_n"] else None


def _averages(sums: dict[str, dict[str, float]], categories: list[tuple[str, str]]) -> dict[str, Any]:
    """Average risk and confidence over the period's classified tickets, in all and per category."""
    known = {slug for slug, _ in categories}
    order = [*categories, *[(slug, slug) for slug in sorted(sums) if slug and slug not in known]]
    total = {
        key: sum(group[key] for group in sums.values())
        for key in ("risk_sum", "risk_n", "confidence_sum", "confidence_n")
    }
    empty = dict.fromkeys(total, 0.0)
    return {
        **{field: _average(total, field) for field in _AVERAGED},
        "classified": int(total["confidence_n"]),
        "categories": [
            {
                "category": slug,
                "label": label,
                **{field: _average(sums.get(slug, empty), field) for field in _AVERAGED},
                "classified": int(sums.get(slug, empty)["confidence_n"]),
            }
            for slug, label in order
        ],
    }


def _charts(period: Period, categories: list[tuple[str, str]]) -> dict[str, Any]:
    """Every chart of the period from one grouped scan of its tickets (`_scan`): the volume per hour (periods
    of up to HOURLY_MAX_DAYS) and per day, a trend line per category, the split by category, team,
    priority, sentiment, source and channel, and the average risk and confidence."""
    slots = period.hour_buckets() if period.per_hour else period.day_buckets()
    volume = [0] * len(slots)
    trends: dict[str, list[int]] = {slug: [0] * len(slots) for slug, _ in categories}
    by: dict[str, dict[str, int]] = {name: {} for name in ("categories", "teams", *_SPLITS)}
    sums: dict[str, dict[str, float]] = {}
    starts = [start for start, _ in slots]
    # Confirmed duplicates (a handful, from their own index) are taken off: one request is counted once.
    rows = [*_scan(period, starts), *map(_negated, _scan(period, starts, duplicates=True))]
    for row in rows:
        volume[row["bucket"]] += row["n"]
        for name, key in (("categories", row["category"]), ("teams", row["team"])):
            if key:
                by[name][key] = by[name].get(key, 0) + row["n"]
        if row["category"]:
            trends.setdefault(row["category"], [0] * len(slots))[row["bucket"]] += row["n"]
        for name, (_, choices, _) in _SPLITS.items():
            for index, value in enumerate(choices.values):
                by[name][value] = by[name].get(value, 0) + row[f"{name}_{index}"]
        group = sums.setdefault(
            row["category"], dict.fromkeys(("risk_sum", "risk_n", "confidence_sum", "confidence_n"), 0.0)
        )
        for key in group:
            group[key] += row[key] or 0
    return _chart_figures(period, categories, slots, volume, trends, by, sums)


def _chart_figures(
    period: Period,
    categories: list[tuple[str, str]],
    slots: list[tuple[datetime, str]],
    volume: list[int],
    trends: dict[str, list[int]],
    by: dict[str, dict[str, int]],
    sums: dict[str, dict[str, float]],
) -> dict[str, Any]:
    hours = period.per_hour and not period.hourly  # counted per hour, charted per day: roll the hours up
    steps = period.buckets()
    names = dict(categories)
    chart_volume = _per_day(volume, hours)
    return {
        "volume": [Bar(label, chart_volume[index]) for index, (_, label) in enumerate(steps)],
        "bucket_labels": [label for _, label in steps],
        "trends": [
            {"category": slug, "label": names.get(slug, slug), "values": _per_day(values, hours)}
            for slug, values in trends.items()
            if slug in names or any(values)
        ],
        "volume_per_hour": [Slot(start, label, volume[i]) for i, (start, label) in enumerate(slots)]
        if period.per_hour
        else None,
        "volume_per_day": [
            Slot(start, label, value)
            for (start, label), value in zip(period.day_buckets(), _per_day(volume, period.per_hour), strict=True)
        ],
        "categories": _bars(by["categories"], categories, "cat-"),
        "teams": _bars(by["teams"], [], "team-"),
        **{name: _bars(by[name], list(choices.choices), css) for name, (_, choices, css) in _SPLITS.items()},
        "averages": _averages(sums, categories),
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
