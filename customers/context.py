"""A customer's context, computed in the database for a chunk of tickets at once (two aggregate queries
whatever the chunk's size), and the customer records created on first sight."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from customers.models import Customer, key_for
from customers.rules import Facts
from tickets.models import ACTIVE_STATES, Priority, Status, Ticket

# The recent tickets kept per customer (the panel's list, the sentiment trend, the prompt's last sentiments).
RECENT_SHOWN = 10
SENTIMENTS_IN_PROMPT = 5
SENTIMENT_SCORE = {"negative": -1, "neutral": 0, "positive": 1}
# The recent-tickets query reads at most this many rows per customer of the chunk, on average: a customer
# writing hundreds of times in 90 days must not make a chunk read them all (their repeat count then stops
# there, far above any CUSTOMER_REPEAT_CONTACTS).
RECENT_ROWS_PER_CUSTOMER = 50


@dataclass
class RecentTicket:
    pk: int
    subject: str
    category: str
    sentiment: str
    priority: str
    created: datetime


@dataclass
class CustomerContext:
    customer: Customer
    tickets_30d: int = 0
    tickets_90d: int = 0
    open_tickets: int = 0
    escalations: int = 0
    # Classified tickets of the last 90 days, newest first (at most RECENT_SHOWN), and per category in 30 days.
    recent: list[RecentTicket] = field(default_factory=list)
    categories_30d: dict[str, int] = field(default_factory=dict)

    def repeats(self, category: str) -> int:
        return self.categories_30d.get(category, 0)

    def facts(self, category: str) -> Facts:
        return Facts(vip=self.customer.vip, plan=self.customer.plan, repeats=self.repeats(category))

    @property
    def last_sentiments(self) -> list[str]:
        return [t.sentiment for t in self.recent[:SENTIMENTS_IN_PROMPT]]

    @property
    def trend(self) -> str:
        """Worse, better or steady: the newer half of the recent sentiments against the older half."""
        scores = [SENTIMENT_SCORE.get(t.sentiment, 0) for t in reversed(self.recent)]
        if len(scores) < 2:
            return "not enough tickets"
        half = len(scores) // 2
        older, newer = sum(scores[:half]) / half, sum(scores[half:]) / (len(scores) - half)
        if newer < older - 0.25:
            return "worse"
        return "better" if newer > older + 0.25 else "steady"

    def summary(self) -> dict[str, Any]:
        """What the classification's explanation records of the customer."""
        return {
            "key": self.customer.key,
            "vip": self.customer.vip,
            "plan": self.customer.plan,
            "tickets_30d": self.tickets_30d,
            "tickets_90d": self.tickets_90d,
            "open_tickets": self.open_tickets,
            "escalations": self.escalations,
            "last_sentiments": self.last_sentiments,
        }

    def prompt_block(self) -> dict[str, Any]:
        """The short context the LLM sees: no name, email or attributes (classification.llm masks it like the
        ticket all the same)."""
        return {
            "vip": self.customer.vip,
            "plan": self.customer.plan[:50] or None,
            "tickets_last_30_days": self.tickets_30d,
            "tickets_last_90_days": self.tickets_90d,
            "open_tickets": self.open_tickets,
            "past_escalations": self.escalations,
            "recent_categories": [t.category for t in self.recent[:SENTIMENTS_IN_PROMPT]],
            "last_sentiments": self.last_sentiments,
        }


def _key_expression() -> Coalesce:
    return Coalesce(NullIf("customer_id", Value("")), Lower("customer_email"), output_field=CharField())


def tickets_of(keys: Iterable[str]) -> QuerySet[Ticket]:
    """The tickets of these customers: by customer id, or by email for tickets without one. Each side is an
    index range (`ticket_customer_id_idx`, `ticket_customer_email_idx`)."""
    keys = list(keys)
    return Ticket.objects.annotate(email_key=Lower("customer_email")).filter(
        Q(customer_id__in=keys) | Q(customer_id="", email_key__in=keys)
    )


def _ensure_customers(tickets: Sequence[Ticket]) -> dict[str, Customer]:
    """Customer records for these tickets' keys: the existing ones, and new ones (first sight) with what the
    ticket says of them. Two queries, or one when every customer is known."""
    firsts: dict[str, Ticket] = {}
    for ticket in tickets:
        key = key_for(ticket.customer_id, ticket.customer_email)
        if key:
            firsts.setdefault(key, ticket)
    known = {c.key: c for c in Customer.objects.filter(key__in=list(firsts))}
    new = [
        Customer(key=key, external_id=t.customer_id, email=t.customer_email.lower(), name=t.customer_name)
        for key, t in firsts.items()
        if key not in known
    ]
    if new:
        # A worker classifying another chunk of the same customer may insert it first: the conflict is ignored.
        Customer.objects.bulk_create(new, ignore_conflicts=True)
        known.update({c.key: c for c in new})
    return known


def _counts(keys: list[str], exclude: list[int], now: datetime) -> dict[str, dict[str, int]]:
    day30, day90 = now - timedelta(days=30), now - timedelta(days=90)
    escalated = Q(status=Status.CLASSIFIED) & (Q(priority=Priority.CRITICAL) | Q(team=settings.ESCALATION_TEAM))
    rows = (
        tickets_of(keys)
        .exclude(pk__in=exclude)
        .annotate(customer_key=_key_expression())
        .values("customer_key")
        .annotate(
            tickets_30d=Count("pk", filter=Q(created__gte=day30)),
            tickets_90d=Count("pk", filter=Q(created__gte=day90)),
            open_tickets=Count("pk", filter=Q(state__in=ACTIVE_STATES)),
            escalations=Count("pk", filter=escalated),
        )
        .order_by()
    )
    return {
        row["customer_key"]: {
            "tickets_30d": row["tickets_30d"],
            "tickets_90d": row["tickets_90d"],
            "open_tickets": row["open_tickets"],
            "escalations": row["escalations"],
        }
        for row in rows
    }


def _recent(keys: list[str], exclude: list[int], now: datetime) -> dict[str, list[RecentTicket]]:
    day90 = now - timedelta(days=90)
    rows = (
        tickets_of(keys)
        .exclude(pk__in=exclude)
        .annotate(customer_key=_key_expression())
        .filter(status=Status.CLASSIFIED, created__gte=day90)
        .order_by("-created", "-id")
        .values_list("customer_key", "pk", "subject", "category", "sentiment", "priority", "created")
    )
    recent: dict[str, list[RecentTicket]] = {}
    for key, pk, subject, category, sentiment, priority, created in rows[: RECENT_ROWS_PER_CUSTOMER * len(keys)]:
        recent.setdefault(key, []).append(RecentTicket(pk, subject, category, sentiment, priority, created))
    return recent


def _context(customer: Customer, counts: dict[str, int], rows: list[RecentTicket], now: datetime) -> CustomerContext:
    day30 = now - timedelta(days=30)
    by_category: dict[str, int] = {}
    for row in rows:
        if row.created >= day30:
            by_category[row.category] = by_category.get(row.category, 0) + 1
    return CustomerContext(customer=customer, recent=rows[:RECENT_SHOWN], categories_30d=by_category, **counts)


def for_tickets(tickets: Sequence[Ticket], now: datetime | None = None) -> dict[int, CustomerContext]:
    """Each ticket's customer context (tickets without a customer id or email get none), creating the
    customers seen for the first time. The customer's other tickets only: the chunk's own tickets are left
    out, so a ticket never counts itself (nor a sibling classified in the same chunk)."""
    customers = _ensure_customers(tickets)
    if not customers:
        return {}
    now = now or timezone.now()
    keys, exclude = list(customers), [t.pk for t in tickets]
    counts, recent = _counts(keys, exclude, now), _recent(keys, exclude, now)
    contexts = {key: _context(c, counts.get(key, {}), recent.get(key, []), now) for key, c in customers.items()}
    return {t.pk: contexts[k] for t in tickets if (k := key_for(t.customer_id, t.customer_email)) in contexts}


def for_customer(customer: Customer, now: datetime | None = None, exclude: Sequence[int] = ()) -> CustomerContext:
    """One customer's context now (the customer page, the ticket's panel: without that ticket, the API): two
    queries."""
    now = now or timezone.now()
    counts, recent = _counts([customer.key], list(exclude), now), _recent([customer.key], list(exclude), now)
    return _context(customer, counts.get(customer.key, {}), recent.get(customer.key, []), now)
