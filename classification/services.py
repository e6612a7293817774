"""Classification flows. `classify_ticket` is the only place that knows the classifier chain's order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pybreaker
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Sum, Value
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from classification import breaker, keywords, llm, rules
from classification.models import Category, Classification, FallbackReason
from tickets.models import SLA, Priority, Source, Status, Ticket

logger = logging.getLogger(__name__)

# The sweep re-publishes at most this many tickets per run, so one run stays short even after a
# long broker outage; the next run takes the next batch.
SWEEP_BATCH_SIZE = 500


@dataclass
class Outcome:
    """What the chain decided for one ticket, whichever classifier answered."""

    source: str
    category: str
    priority: str
    sentiment: str
    risk: float
    team: str
    confidence: float
    summary: str
    suggested_reply: str
    entities: dict[str, Any] = field(default_factory=dict)
    matched_keywords: list[str] = field(default_factory=list)
    explanation: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str = ""
    fallback_detail: str = ""
    model_name: str = ""
    prompt_version: str = ""
    latency_ms: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None


class _ClaimLost(Exception):
    """Another worker took the ticket over (our claim went stale); our result must not be written."""


def _stale_before() -> datetime:
    # A claim older than the hard time limit belongs to a worker that died.
    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)


def _claim(ticket_id: int, token: str) -> Ticket | None:
    # A retry of the same message (same token) takes back its own claim, left behind when its last
    # attempt failed (e.g. the database went away before the release), instead of waiting for it to go stale.
    if Ticket.objects.filter(pk=ticket_id).claim(token=token, stale_before=_stale_before()) != 1:
        return None
    return Ticket.objects.get(pk=ticket_id)


def _release(ticket: Ticket) -> None:
    try:
        Ticket.objects.filter(pk=ticket.pk).release(claimed_at=ticket.status_changed)
    except DatabaseError:
        # The database is what failed: the retry takes its own claim back, and the sweep a dead one.
        logger.debug("ticket %s: claim not released (database unavailable)", ticket.pk)


def keyword_outcome(ticket: Ticket, reason: str, detail: str = "") -> Outcome:
    result = keywords.classify(
        rules.current_rules(),
        ticket.subject,
        ticket.body,
        declared_priority=ticket.declared_priority,
        customer_name=ticket.customer_name,
    )
    return Outcome(source=Source.KEYWORD, fallback_reason=reason, fallback_detail=detail[:500], **asdict(result))


def llm_spent_today() -> dict[str, Any]:
    """LLM tokens and estimated cost since midnight (the server's time zone): the budget's measure."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    spent = Classification.objects.filter(source=Source.LLM, created__gte=today).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens")), cost=Sum("cost_usd")
    )
    return {"tokens": spent["tokens"] or 0, "cost_usd": float(spent["cost"] or 0)}


def _over_budget() -> bool:
    budget = settings.LLM_DAILY_TOKEN_BUDGET
    return budget > 0 and llm_spent_today()["tokens"] >= budget


def llm_choices() -> tuple[list[llm.CategoryChoice], list[str]]:
    """The active taxonomy as the LLM sees it, and the teams it may name."""
    categories = [
        llm.CategoryChoice(slug=c.slug, name=c.name, description=c.description, team=c.team)
        for c in Category.objects.filter(active=True).order_by("position", "slug")
    ]
    teams = sorted({c.team for c in categories} | {settings.ESCALATION_TEAM})
    return categories, teams


def _llm_outcome(result: llm.LLMResult, categories: list[llm.CategoryChoice]) -> Outcome:
    # Routing stays the taxonomy's: the category's team, or escalation for critical tickets.
    team = settings.ESCALATION_TEAM
    if result.priority != Priority.CRITICAL:
        team = next(c.team for c in categories if c.slug == result.category)
    return Outcome(
        source=Source.LLM,
        category=result.category,
        priority=result.priority,
        sentiment=result.sentiment,
        risk=result.risk,
        team=team,
        confidence=result.confidence,
        summary=result.summary,
        suggested_reply=result.suggested_reply,
        entities=result.entities,
        explanation={**result.explanation, "llm_team": result.team},
        model_name=result.model_name,
        prompt_version=result.prompt_version,
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=result.cost_usd,
    )


def _run_chain(ticket: Ticket) -> Outcome:
    """The LLM behind the breaker when it is configured and allowed; on any failure the keyword
    classifier answers at once and the outcome says why."""
    if not llm.is_configured():
        return keyword_outcome(ticket, FallbackReason.NOT_CONFIGURED)
    if _over_budget():
        return keyword_outcome(ticket, FallbackReason.OVER_BUDGET, "daily LLM token budget spent")
    categories, teams = llm_choices()
    try:
        result = breaker.call(
            lambda: llm.classify(ticket.subject, ticket.body, ticket.declared_priority, categories, teams)
        )
    except pybreaker.CircuitBreakerError as exc:
        cause = breaker.original_error(exc)
        if cause is not None:  # this call failed and tripped the breaker: its own error is the reason
            logger.warning("ticket %s: LLM failed (%s) and the breaker opened", ticket.pk, cause.reason)
            return keyword_outcome(ticket, cause.reason, str(cause))
        return keyword_outcome(ticket, FallbackReason.BREAKER_OPEN, str(exc))
    except llm.LLMError as exc:
        logger.warning("ticket %s: LLM failed (%s): %s", ticket.pk, exc.reason, exc)
        return keyword_outcome(ticket, exc.reason, str(exc))
    return _llm_outcome(result, categories)


def _current_fields(ticket: Ticket, outcome: Outcome) -> dict[str, Any]:
    """The classification's fields the ticket carries as its current ones (the state machine adds the
    status and timestamps)."""
    return {
        "category": outcome.category,
        "priority": outcome.priority,
        "sentiment": outcome.sentiment,
        "risk": outcome.risk,
        "team": outcome.team,
        "confidence": outcome.confidence,
        "classification_source": outcome.source,
        "fallback_reason": outcome.fallback_reason,
        "summary": outcome.summary,
        "due_at": ticket.sla_due(outcome.priority),
    }


def _persist(ticket: Ticket, outcome: Outcome) -> Classification:
    now = timezone.now()
    with transaction.atomic():
        classification = Classification.objects.create(ticket=ticket, created=now, **asdict(outcome))
        updated = Ticket.objects.filter(pk=ticket.pk).complete(
            claimed_at=ticket.status_changed, now=now, **_current_fields(ticket, outcome)
        )
        if updated != 1:
            raise _ClaimLost
    return classification


def classify_ticket(ticket_id: int, *, force: bool = False, claim_token: str = "") -> Classification | None:
    """Classify one ticket: claim it, run the chain, store the result and the ticket's current fields
    in one transaction. Safe to run twice: the second run finds nothing to claim and does nothing.
    A human correction wins: without `force` the ticket keeps it and no automatic result is stored.
    `claim_token` (the task message's id) lets a retry of the same message take back its own claim."""
    ticket = _claim(ticket_id, claim_token)
    if ticket is None:
        logger.info("ticket %s: nothing to claim (missing, done, or being classified)", ticket_id)
        return None
    if ticket.is_human_corrected and not force:
        Ticket.objects.filter(pk=ticket.pk).keep_classified(claimed_at=ticket.status_changed)
        logger.info("ticket %s: human correction kept", ticket_id)
        return None
    try:
        outcome = _run_chain(ticket)
        classification = _persist(ticket, outcome)
    except _ClaimLost:
        logger.warning("ticket %s: claim taken over by another worker; result dropped", ticket_id)
        return None
    except BaseException:
        _release(ticket)
        raise
    logger.info(
        "ticket %s classified: source=%s category=%s reason=%s",
        ticket_id,
        outcome.source,
        outcome.category,
        outcome.fallback_reason or "-",
    )
    return classification


def mark_failed(ticket_id: int, error: str) -> None:
    """The task gave up on this ticket: keep it, visibly failed, with the error. If the database cannot
    take that either, the ticket stays queued or claimed and the sweep sends it again later."""
    try:
        Ticket.objects.filter(pk=ticket_id).fail(error)
    except DatabaseError:
        logger.warning("ticket %s: could not be marked failed (database unavailable); the sweep retries it", ticket_id)
        return
    logger.warning("ticket %s failed: %s", ticket_id, error[:200])


def find_stuck_tickets() -> list[int]:
    """Tickets whose publish failed, tickets queued too long (their message was probably lost) and
    tickets claimed by a worker that died: a batch of them, back to `queued` with `status_changed`
    touched and the publish flag cleared, ready to publish again. They are not picked again until they
    go stale once more (a failed publish flags them again at once)."""
    queued_before = timezone.now() - timedelta(seconds=settings.QUEUED_STALE_SECONDS)
    stuck = Ticket.objects.stuck(queued_before=queued_before, stale_before=_stale_before())
    with transaction.atomic():
        ids = list(stuck.order_by("status_changed").values_list("pk", flat=True)[:SWEEP_BATCH_SIZE])
        # `stuck` again: a ticket claimed or classified since the select is left alone.
        stuck.filter(pk__in=ids).requeue(from_statuses=[Status.QUEUED, Status.PROCESSING])
    return ids


def flag_queued_for_publishing() -> int:
    """The broker lost the messages it held (Redis restarted without persistence, flushed, failed over):
    every ticket queued until now is published again by the sweep. The claim makes a message that did
    survive a no-op."""
    return Ticket.objects.filter(status=Status.QUEUED, status_changed__lte=timezone.now()).flag_unpublished()


def _routed(category: str, priority: str, teams: dict[str, str]) -> str:
    return settings.ESCALATION_TEAM if priority == Priority.CRITICAL else teams.get(category, "")


def _correction(
    ticket: Ticket, author: User, values: dict[str, str], teams: dict[str, str], now: datetime
) -> Classification:
    """A person's classification of one ticket: fields not given keep the ticket's current values. The team:
    the one given; `team: ""` routes by the category (critical: escalation); no `team` at all keeps a team
    someone chose by hand (one other than the routing's) and otherwise routes by the new category."""
    category = values.get("category") or ticket.category
    priority = values.get("priority") or ticket.priority or Priority.MEDIUM
    chosen_by_hand = bool(ticket.team) and ticket.team != _routed(ticket.category, ticket.priority, teams)
    if values.get("team"):
        team = values["team"]
    elif "team" not in values and chosen_by_hand:
        team = ticket.team
    else:
        team = _routed(category, priority, teams)
    outcome = Outcome(
        source=Source.HUMAN,
        category=category,
        priority=priority,
        sentiment=values.get("sentiment") or ticket.sentiment or "neutral",
        risk=ticket.risk if ticket.risk is not None else 0.0,
        team=team,
        confidence=1.0,
        summary=ticket.summary,
        suggested_reply="",
    )
    automatic = ticket.classification_source in (Source.LLM, Source.KEYWORD)
    return Classification(
        ticket=ticket,
        author=author,
        created=now,
        replaced_category=ticket.category if automatic else "",
        **asdict(outcome),
    )


def record_corrections(ticket_ids: Sequence[int], author: User, values: dict[str, str]) -> list[Classification]:
    """People's classifications of many tickets at once (the list's bulk actions, confirming several in
    review): one history row each with its author, and each becomes its ticket's current classification.
    Values not given keep each ticket's own (so confirming keeps everything, a hand-chosen team included).
    Tickets with no category to keep and none given are skipped. One transaction: a bulk insert of the
    history, then one UPDATE per distinct set of new values, and one audit entry naming every ticket."""
    now = timezone.now()
    with transaction.atomic():
        tickets = Ticket.objects.select_for_update().filter(pk__in=list(ticket_ids)).defer("body").order_by("pk")
        teams = dict(Category.objects.values_list("slug", "team"))
        rows = [
            _correction(t, author, values, teams, now)
            for t in tickets
            if (values.get("category") or t.category) in teams
        ]
        Classification.objects.bulk_create(rows)
        groups: dict[tuple[str, str, str, str], list[int]] = {}
        for row in rows:
            groups.setdefault((row.category, row.priority, row.sentiment, row.team), []).append(row.ticket_id)
        for (category, priority, sentiment, team), ids in groups.items():
            due = ExpressionWrapper(F("created") + Value(SLA[Priority(priority)]), output_field=DateTimeField())
            Ticket.objects.filter(pk__in=ids).correct(
                now=now,
                category=category,
                priority=priority,
                sentiment=sentiment,
                team=team,
                confidence=1.0,
                classification_source=Source.HUMAN,
                fallback_reason="",
                due_at=due,
            )
        if len(rows) == 1:
            row = rows[0]
            detail = {"category": row.category, "priority": row.priority, "team": row.team, "sentiment": row.sentiment}
            audit.record(Action.TICKET_CORRECTED, actor=author, target=f"ticket:{row.ticket_id}", detail=detail)
        elif rows:
            target, detail = audit.tickets_target([row.ticket_id for row in rows])
            changed = {key: value for key, value in values.items() if value}
            audit.record(Action.TICKET_CORRECTED, actor=author, target=target, detail={**detail, **changed})
    logger.info("%d tickets corrected by user %s", len(rows), author.pk)
    return rows


def record_correction(ticket: Ticket, author: User, values: dict[str, str]) -> Classification:
    """A person's classification of one ticket (`record_corrections` for one): stored as history with its
    author, it becomes the ticket's current one, and `ticket` is refreshed."""
    [classification] = record_corrections([ticket.pk], author, values)
    ticket.refresh_from_db()
    return classification


# The keyword classifier answered these because the LLM was unavailable (not because it was never
# configured, over budget, or answered off the schema).
OUTAGE_REASONS = [FallbackReason.BREAKER_OPEN, FallbackReason.TIMEOUT, FallbackReason.ERROR]


def _recovery_trial(outage: Q) -> bool:
    """With no new tickets nothing else makes the breaker's trial call: once its reset time has passed,
    classify the oldest outage ticket here, through the breaker. True if that closed the breaker; if the
    trial failed, the breaker is open again and that ticket keeps a keyword answer."""
    if not breaker.trial_due():
        return False
    ticket_id = Ticket.objects.filter(outage).order_by("classified_at").values_list("pk", flat=True).first()
    if ticket_id is None:
        return False  # nothing to recover: the next new ticket makes the trial call
    if not Ticket.objects.filter(outage, pk=ticket_id).requeue(from_statuses=[Status.CLASSIFIED]):
        return False  # corrected (or requeued) since the select
    logger.info("recovery: trial call through the open breaker with ticket %s", ticket_id)
    classify_ticket(ticket_id)
    return breaker.status()["state"] == pybreaker.STATE_CLOSED


def requeue_outage_tickets(limit: int) -> list[int]:
    """Once the LLM is healthy (configured, breaker closed), send a bounded batch of tickets that the
    keyword classifier handled during an outage back for classification, oldest first. While the breaker
    is open, the trial call is made here first (`_recovery_trial`), so recovery never waits for new
    traffic. Tickets a person corrected are never picked: their source is `human`."""
    if not llm.is_configured():
        return []
    outage = Q(status=Status.CLASSIFIED, classification_source=Source.KEYWORD, fallback_reason__in=OUTAGE_REASONS)
    if breaker.status()["state"] != pybreaker.STATE_CLOSED and not _recovery_trial(outage):
        return []
    with transaction.atomic():
        ids = list(Ticket.objects.filter(outage).order_by("classified_at").values_list("pk", flat=True)[:limit])
        # Filtered again: a correction saved since the select must not be requeued.
        Ticket.objects.filter(outage, pk__in=ids).requeue(from_statuses=[Status.CLASSIFIED])
    return ids


def breaker_status() -> dict[str, Any]:
    return {**breaker.status(), "llm_configured": llm.is_configured()}


def llm_configured() -> bool:
    return llm.is_configured()


def llm_category(subject: str, body: str) -> str:
    """The LLM's category for one text, straight (no breaker, nothing stored): for `evaluate`.
    Raises llm.LLMError when the LLM gives no usable answer."""
    categories, teams = llm_choices()
    return llm.classify(subject, body, "", categories, teams).category
