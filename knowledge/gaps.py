"""The content-gap report: tickets the knowledge base answers badly, grouped by category, so the team knows
which articles to write.

A ticket's score is the similarity of the best chunk retrieval finds for its subject and body (0 when none
matched), kept in a TicketMatch row. `refresh` scores a period's tickets that have no row yet, or whose row is
older than the newest article write, a bounded batch at a time (the page and the API call it before reading,
`manage.py kb_gaps` runs it to the end), searching with the text a reply is grounded on (grounding.query_text).
The classification stores the scores of the tickets it grounds (`record`), so most tickets are scored before
the report is opened. `report` reads the rows: a ticket is a gap below settings.KB_GAP_SIMILARITY."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from knowledge import grounding, retrieval
from knowledge.models import Article, TicketMatch
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# Tickets searched (in one retrieval.search_many) and written per batch, and the gap tickets listed per category.
BATCH = 100
EXAMPLES = 5


def _match(ticket_id: int, found: Sequence[tuple[float | None, int]], now: datetime) -> TicketMatch:
    """The ticket's score from what retrieval found for it, (similarity, article id) per chunk: the best
    similarity (0 when nothing matched) and its article."""
    best = max(found, key=lambda pair: pair[0] or 0.0, default=None)
    return TicketMatch(
        ticket_id=ticket_id,
        similarity=(best[0] or 0.0) if best is not None else 0.0,
        article_id=best[1] if best is not None else None,
        computed=now,
    )


def _save(matches: list[TicketMatch]) -> None:
    TicketMatch.objects.bulk_create(
        matches,
        update_conflicts=True,
        unique_fields=["ticket"],
        update_fields=["similarity", "article", "computed"],
    )


def _pending(since: datetime, until: datetime) -> QuerySet[Ticket]:
    """The period's tickets without a score, or with one older than the newest article write."""
    tickets = Ticket.objects.filter(created__gte=since, created__lt=until)
    newest = Article.objects.aggregate(newest=Max("updated"))["newest"]
    stale = Q(kb_match__isnull=True) | (Q(kb_match__computed__lt=newest) if newest else Q(pk__in=[]))
    return tickets.filter(stale).order_by("-created", "-pk")


def score(tickets: Iterable[Ticket]) -> int:
    """Search for each ticket and store its score, BATCH tickets to a search and a write; how many were scored."""
    now = timezone.now()
    tickets = list(tickets)
    for start in range(0, len(tickets), BATCH):
        batch = tickets[start : start + BATCH]
        found = retrieval.search_many([grounding.query_text(t.subject, t.body) for t in batch])
        _save(
            [
                _match(t.pk, [(hit.similarity, hit.chunk.article_id) for hit in hits], now)
                for t, hits in zip(batch, found, strict=True)
            ]
        )
    return len(tickets)


def record(sources: Mapping[int | None, Sequence[grounding.Source]]) -> None:
    """Store the scores of tickets whose sources were just retrieved (the classification's grounding, the same
    search `score` runs), so the report finds them scored: one write for them all. Unsaved tickets (None) are
    skipped, and nothing is stored with grounding off (KB_TOP_K 0: nothing was searched)."""
    if settings.KB_TOP_K <= 0:
        return
    now = timezone.now()
    matches = [
        _match(pk, [(source.similarity, source.article_id) for source in found], now)
        for pk, found in sources.items()
        if pk is not None
    ]
    if matches:
        _save(matches)


def refresh(since: datetime, until: datetime, limit: int | None = None) -> tuple[int, int]:
    """Score up to `limit` (settings.KB_GAP_SCORE_BATCH) of the period's unscored or stale tickets, newest
    first; (scored now, still pending)."""
    limit = settings.KB_GAP_SCORE_BATCH if limit is None else limit
    pending = _pending(since, until)
    scored = score(pending.only("pk", "subject", "body")[:limit]) if limit > 0 else 0
    remaining = pending.count() if scored == limit else 0
    if scored:
        logger.info("content gaps: %s tickets scored, %s pending", scored, remaining)
    return scored, remaining


@dataclass(frozen=True)
class GapTicket:
    id: int
    subject: str
    similarity: float
    article_id: int | None
    article_title: str


@dataclass
class CategoryGaps:
    category: str
    gaps: int
    scored: int
    tickets: list[GapTicket] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.gaps / self.scored if self.scored else 0.0


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    threshold: float
    scored: int
    pending: int
    categories: list[CategoryGaps]

    @property
    def gaps(self) -> int:
        return sum(c.gaps for c in self.categories)


def report(since: datetime, until: datetime, *, pending: int = 0, threshold: float | None = None) -> Report:
    """The period's scored tickets by category, the categories with most gaps first, each with its worst
    answered tickets (EXAMPLES)."""
    threshold = settings.KB_GAP_SIMILARITY if threshold is None else threshold
    matches = TicketMatch.objects.filter(ticket__created__gte=since, ticket__created__lt=until)
    counts = matches.values("ticket__category").annotate(
        scored=Count("pk"), gaps=Count("pk", filter=Q(similarity__lt=threshold))
    )
    by_category = {
        row["ticket__category"]: CategoryGaps(row["ticket__category"], row["gaps"], row["scored"])
        for row in counts
        if row["gaps"]
    }
    # Each category's EXAMPLES worst, in one query: its rows numbered by similarity within their category.
    numbered = matches.filter(similarity__lt=threshold).annotate(
        place=Window(RowNumber(), partition_by=[F("ticket__category")], order_by=[F("similarity"), F("ticket_id")])
    )
    worst = (
        numbered.filter(place__lte=EXAMPLES)
        .select_related("ticket", "article")
        .only("similarity", "article__title", "ticket__subject", "ticket__category")
        .order_by("similarity", "ticket_id")
    )
    for m in worst:
        by_category[m.ticket.category].tickets.append(
            GapTicket(m.ticket_id, m.ticket.subject, m.similarity, m.article_id, m.article.title if m.article else "")
        )
    categories = sorted(by_category.values(), key=lambda c: (-c.gaps, c.category))
    scored = sum(row["scored"] for row in counts)
    return Report(since, until, threshold, scored, pending, categories)


def for_last_days(days: int) -> Report:
    """The report over the last `days`, after scoring a batch of its pending tickets (the page and the API)."""
    until = timezone.now()
    since = until - timedelta(days=days)
    _, pending = refresh(since, until)
    return report(since, until, pending=pending)
