"""Classification flows. `classify_ticket` is the only place that knows the classifier chain's order."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pybreaker
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Sum, Value
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from classification import breaker, keywords, llm, options, rules
from classification.keywords import info
from classification.learned import runtime as learned
from classification.models import Category, Citation, Classification, FallbackReason
from customers import context as customer_context
from customers import rules as customer_rules
from events import outbox
from events.models import EventType
from knowledge import gaps, grounding
from knowledge.models import Article, Chunk
from supportintel import logcontext
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
    secondary_categories: list[dict[str, Any]] = field(default_factory=list)
    urgency_indicators: list[str] = field(default_factory=list)
    reasoning: str = ""
    routing_alternatives: list[dict[str, Any]] = field(default_factory=list)
    missing_info: list[str] = field(default_factory=list)
    reply_tone: str = ""
    # The knowledge-base sources the suggested reply cites: always some of those retrieved for the ticket.
    citations: list[grounding.Source] = field(default_factory=list)

    def row_fields(self) -> dict[str, Any]:
        """The history row's fields (the citations are rows of their own: `citation_rows`)."""
        return {name: value for name, value in vars(self).items() if name != "citations"}


def citation_rows(row: Classification, sources: Sequence[grounding.Source]) -> list[Citation]:
    """The Citation rows of a stored classification citing `sources`, in the order cited."""
    return [
        Citation(
            classification=row,
            position=position,
            rank=source.rank,
            article_id=source.article_id,
            chunk_id=source.chunk_id,
            title=source.article_title[:300],
            heading=source.heading[:300],
            page=source.page,
            score=source.score,
            excerpt=grounding.quote(source),
        )
        for position, source in enumerate(sources)
    ]


def save_citations(pairs: Sequence[tuple[Classification, Sequence[grounding.Source]]]) -> None:
    """Store the citations of classifications just stored (one query to check their chunks, one INSERT; none
    without citations). A chunk replaced since it was retrieved (its article edited meanwhile) is cited without
    its link, and so is an article deleted: the title, section and passage stay, never a dangling key."""
    rows = [citation for row, sources in pairs for citation in citation_rows(row, sources)]
    if not rows:
        return
    chunks = set(Chunk.objects.filter(pk__in={c.chunk_id for c in rows}).values_list("pk", flat=True))
    gone = [citation for citation in rows if citation.chunk_id not in chunks]
    if gone:
        articles = set(Article.objects.filter(pk__in={c.article_id for c in gone}).values_list("pk", flat=True))
        for citation in gone:
            citation.chunk_id = None
            citation.article_id = citation.article_id if citation.article_id in articles else None
    Citation.objects.bulk_create(rows)


def _stale_before() -> datetime:
    # A claim older than the hard time limit belongs to a worker that died.
    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)


# What the chain reads of a ticket, and what persisting needs (never the whole row: no history, no agents' fields).
_CHAIN_FIELDS = (
    "subject",
    "body",
    "declared_priority",
    "customer_name",
    "customer_email",
    "options",
    "classification_source",
    "customer_id",
    "created",
    "status_changed",
)


def _claim(ticket_ids: Sequence[int], token: str) -> tuple[list[Ticket], datetime]:
    """Claim every claimable ticket of `ticket_ids` in one UPDATE and read them back: the tickets this call
    holds now (a duplicated message, or one whose tickets another worker holds, gets none) and the claim's time.
    A retry of the same message (same token) takes back its own claims, left behind when its last attempt
    failed (e.g. the database went away before the release), instead of waiting for them to go stale."""
    claimed_at = timezone.now()
    claimed = Ticket.objects.filter(pk__in=ticket_ids).claim(token=token, stale_before=_stale_before(), now=claimed_at)
    if not claimed:
        return [], claimed_at
    tickets = Ticket.objects.filter(pk__in=ticket_ids).claimed_at(claimed_at).only(*_CHAIN_FIELDS).order_by("pk")
    return list(tickets), claimed_at


def _release(ticket_ids: Sequence[int], claimed_at: datetime) -> None:
    try:
        Ticket.objects.filter(pk__in=ticket_ids).release(claimed_at=claimed_at)
    except DatabaseError:
        # The database is what failed: the retry takes its own claims back, and the sweep a dead one's.
        logger.debug("tickets %s: claims not released (database unavailable)", list(ticket_ids))


class _Chain:
    """What every ticket of one chunk shares, read once per chunk rather than once per ticket: the keyword
    rules (their freshness check is a query), the taxonomy as the LLM sees it, the models the chain may ask
    and their daily budgets."""

    def __init__(self) -> None:
        self._rules: keywords.RuleSet | None = None
        self._choices: tuple[list[llm.CategoryChoice], list[str]] | None = None
        self._over_budget: dict[str, bool] = {}
        self._learned: tuple[learned.ActiveModel | None] | None = None
        self.primary, self.fallback = llm.primary(), llm.fallback()
        # Each ticket's customer context (ticket id → context), read for the whole chunk before the chain runs.
        self.customers: dict[int, customer_context.CustomerContext] = {}
        self.customer_rules = customer_rules.Rules.from_settings()
        # Each ticket's knowledge-base sources (ticket id → sources; None for an unsaved ticket), retrieved for
        # the whole chunk before the chain runs (knowledge.grounding).
        self.sources: dict[int | None, list[grounding.Source]] = {}

    def read_customers(self, tickets: Sequence[Ticket]) -> None:
        self.customers = customer_context.for_tickets(tickets)

    def read_sources(self, tickets: Sequence[Ticket]) -> None:
        """Retrieve every ticket's sources at once (two queries for the chunk)."""
        found = grounding.retrieve_many([(ticket.subject, ticket.body) for ticket in tickets])
        self.sources.update((ticket.pk, sources) for ticket, sources in zip(tickets, found, strict=True))

    def sources_for(self, ticket: Ticket) -> list[grounding.Source]:
        if ticket.pk not in self.sources:
            self.read_sources([ticket])
        return self.sources[ticket.pk]

    def prompt_context(self, ticket: Ticket) -> dict[str, Any] | None:
        found = self.customers.get(ticket.pk)
        return found.prompt_block() if found is not None and settings.CUSTOMER_CONTEXT_IN_PROMPT else None

    def calls_llm(self) -> bool:
        """Whether the chain would call a model now: one configured, its daily budget not spent, and its breaker
        letting calls through (closed, or its trial due). If so, everything the chain reads from the database
        is read here, so that it can run on the LLM threads without a connection; if not, the keyword
        classifier answers the whole chunk at once."""
        usable = [model for model in (self.primary, self.fallback) if model.configured and not self.over_budget(model)]
        if not any(breaker.lets_calls_through(model.name) for model in usable):
            return False
        self.rules, self.llm_choices, self.learned  # noqa: B018  # read now, on this thread's connection
        return True

    @property
    def rules(self) -> keywords.RuleSet:
        if self._rules is None:
            self._rules = rules.current_rules()
        return self._rules

    @property
    def llm_choices(self) -> tuple[list[llm.CategoryChoice], list[str]]:
        if self._choices is None:
            self._choices = llm_choices()
        return self._choices

    def over_budget(self, endpoint: llm.Endpoint) -> bool:
        if endpoint.name not in self._over_budget:
            self._over_budget[endpoint.name] = _over_budget(endpoint)
        return self._over_budget[endpoint.name]

    @property
    def learned(self) -> learned.ActiveModel | None:
        """The active learned model (None: there is none), looked up once per chunk."""
        if self._learned is None:
            self._learned = (learned.active(),)
        return self._learned[0]


def keyword_outcome(
    ticket: Ticket,
    reason: str,
    detail: str = "",
    rule_set: keywords.RuleSet | None = None,
    given: llm.Given | None = None,
    sources: Sequence[grounding.Source] = (),
) -> Outcome:
    """The keyword classifier's answer; with `given` (what a caller, or the learned model, decided), every
    other field for it. Its reply quotes the best of the ticket's knowledge-base `sources` and cites them."""
    given = given or llm.Given()
    rule_set = rule_set or rules.current_rules()
    result = keywords.classify(
        rule_set,
        ticket.subject,
        ticket.body,
        declared_priority=ticket.declared_priority,
        customer_name=ticket.customer_name,
        given_category=given.category,
        given_priority=given.priority,
        given_entities=given.entities,
    )
    outcome = Outcome(source=Source.KEYWORD, fallback_reason=reason, fallback_detail=detail[:500], **asdict(result))
    return finish(outcome, ticket, rule_set, sources)


def _record_sources(outcome: Outcome, sources: Sequence[grounding.Source]) -> None:
    # What was retrieved, cited or not: the check that every citation is one of these, and the best score.
    if sources:
        outcome.explanation["kb_sources"] = [
            {"number": s.number, "article": s.article_id, "chunk": s.chunk_id, "score": s.score} for s in sources
        ]


def finish(
    outcome: Outcome, ticket: Ticket, rule_set: keywords.RuleSet, sources: Sequence[grounding.Source] = ()
) -> Outcome:
    """What every automatic answer gets the same way, whichever classifier gave it, under the ticket's
    options (classification.options): the required information it lacks, the reply in its tone asking for
    that information (or no reply, when replies are off), and no entities when extraction is off. A template
    reply gets the grounded paragraph written from the ticket's knowledge-base `sources` (the best passage
    quoted, the best articles named, said to come from the help centre; articles of the answer's category or
    of none) and cites them; a model's reply keeps the citations it made (validated against the same
    sources)."""
    _record_sources(outcome, sources)
    chosen = options.resolve(ticket.options)
    index = rule_set.slugs.index(outcome.category) if outcome.category in rule_set.slugs else None
    required = rule_set.required[index] if index is not None else ()
    tone = chosen.tone_for(rule_set.tones[index] if index is not None else "")
    outcome.missing_info = _missing(ticket, required, outcome.entities)
    if not chosen.extract:
        outcome.entities = {key: [] for key in outcome.entities}
    if not chosen.reply:
        outcome.suggested_reply, outcome.reply_tone, outcome.citations = "", "", []
        return outcome
    if outcome.source == Source.KEYWORD:  # a template: it never asks, whatever its placeholders say
        grounded = grounding.fallback_reply(sources, outcome.category)
        outcome.citations = grounding.fallback_citations(sources, outcome.category) if grounded else []
        ask = "\n\n".join(part for part in (grounded, info.ask_for(outcome.missing_info, tone)) if part)
        outcome.suggested_reply = keywords.with_tone(outcome.suggested_reply, tone, ask)
    else:  # a model wrote it in the tone it was asked for: only what it did not ask for is added
        unasked = [kind for kind in outcome.missing_info if not info.mentions(outcome.suggested_reply, kind)]
        if unasked:
            outcome.suggested_reply = keywords.with_tone(
                outcome.suggested_reply, "friendly", info.ask_for(unasked, tone)
            )
    outcome.reply_tone = tone
    return outcome


def _fallback_outcome(
    ticket: Ticket, reason: str, detail: str, chain: _Chain, given: llm.Given | None = None
) -> Outcome:
    """The LLM did not answer (`reason`): the learned model when its confidence clears that category's
    threshold (priority, sentiment, entities, summary and reply still come from the rules), otherwise the
    keyword rules. What the learned model said, or why it could not say anything, goes in the explanation.
    A category the caller gave (`given`) is kept: the learned model is not asked."""
    given = given or llm.Given()
    model = chain.learned
    sources = chain.sources_for(ticket)
    if model is None or given.category:
        return keyword_outcome(ticket, reason, detail, chain.rules, given, sources)
    prediction = model.predict(ticket)
    answers = prediction is not None and prediction.confident and prediction.category in chain.rules.slugs
    if answers and prediction is not None:
        learned_given = llm.Given(category=prediction.category, priority=given.priority, entities=given.entities)
        outcome = keyword_outcome(ticket, reason, detail, chain.rules, learned_given, sources)
        outcome.source, outcome.confidence, outcome.model_name = Source.LEARNED, prediction.confidence, model.name
        _, _, rest = outcome.reasoning.partition(";")
        label = prediction.category.replace("_", " ")
        outcome.reasoning = f"The learned model files it as {label} ({prediction.confidence:.0%} sure);{rest}"
    else:
        outcome = keyword_outcome(ticket, reason, detail, chain.rules, given, sources)
    outcome.explanation["learned"] = model.explain(prediction, answered=answers)
    return outcome


# Which source a model's answers are stored with, and its daily token budget's setting.
_SOURCES = {llm.PRIMARY: Source.LLM, llm.FALLBACK: Source.LLM_FALLBACK}
_BUDGETS = {llm.PRIMARY: "LLM_DAILY_TOKEN_BUDGET", llm.FALLBACK: "LLM_FALLBACK_DAILY_TOKEN_BUDGET"}


# Other work on the first model's daily budget (the specialists' drafts, resolutions app): functions from a
# time to the tokens spent since, registered by their app at start so that this app imports nothing above it.
_OTHER_SPENDERS: list[Callable[[datetime], int]] = []


def register_llm_spender(spent_since: Callable[[datetime], int]) -> None:
    if spent_since not in _OTHER_SPENDERS:
        _OTHER_SPENDERS.append(spent_since)


def llm_spent_today(source: str = Source.LLM) -> dict[str, Any]:
    """Tokens and estimated cost since midnight (the server's time zone) of one model's answers (`source`:
    llm for the first, the fallback's source for the second): its budget's measure. The first model's tokens
    include the other work registered on its budget (register_llm_spender); the cost is the classifications'."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    spent = Classification.objects.filter(source=source, created__gte=today).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens")), cost=Sum("cost_usd")
    )
    others = sum(spent_since(today) for spent_since in _OTHER_SPENDERS) if source == Source.LLM else 0
    return {"tokens": (spent["tokens"] or 0) + others, "cost_usd": float(spent["cost"] or 0)}


def _over_budget(endpoint: llm.Endpoint) -> bool:
    budget = getattr(settings, _BUDGETS[endpoint.name])
    return budget > 0 and llm_spent_today(_SOURCES[endpoint.name])["tokens"] >= budget


def llm_over_budget() -> bool:
    """Whether the first model's daily token budget is spent (LLM_DAILY_TOKEN_BUDGET; 0: no budget)."""
    return _over_budget(llm.primary())


def llm_choices() -> tuple[list[llm.CategoryChoice], list[str]]:
    """The active taxonomy as the LLM sees it, and the teams it may name."""
    categories = [
        llm.CategoryChoice(
            slug=c.slug,
            name=c.name,
            description=c.description,
            team=c.team,
            required_info=tuple(c.required_info),
            reply_tone=c.reply_tone,
        )
        for c in Category.objects.filter(active=True).order_by("position", "slug")
    ]
    teams = sorted({c.team for c in categories} | {settings.ESCALATION_TEAM})
    return categories, teams


def _llm_outcome(
    result: llm.LLMResult, categories: list[llm.CategoryChoice], rule_set: keywords.RuleSet, source: str
) -> Outcome:
    # Routing stays the taxonomy's: the category's team, or escalation for critical tickets.
    team = settings.ESCALATION_TEAM
    if result.priority != Priority.CRITICAL:
        team = next(c.team for c in categories if c.slug == result.category)
    alternatives = keywords.routing_alternatives(
        rule_set, result.category, result.priority, result.secondary_categories, result.confidence
    )
    return Outcome(
        source=source,
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
        secondary_categories=result.secondary_categories,
        urgency_indicators=result.urgency_indicators,
        reasoning=result.reasoning,
        routing_alternatives=alternatives,
        citations=result.citations,
    )


@dataclass(frozen=True)
class _Skipped:
    """Why a model did not answer: a fallback reason and its detail."""

    reason: str
    detail: str = ""


def _ask(ticket: Ticket, chain: _Chain, endpoint: llm.Endpoint, given: llm.Given | None) -> Outcome | _Skipped:
    """One model's answer through its breaker, or why there is none."""
    if chain.over_budget(endpoint):
        return _Skipped(FallbackReason.OVER_BUDGET, f"daily token budget of {endpoint.model} spent")
    categories, teams = chain.llm_choices
    chosen = options.resolve(ticket.options)
    sources = chain.sources_for(ticket)
    try:
        result = breaker.call(
            lambda: llm.classify(
                ticket.subject,
                ticket.body,
                ticket.declared_priority,
                categories,
                teams,
                options=chosen,
                given=given,
                endpoint=endpoint,
                customer=chain.prompt_context(ticket),
                sources=sources,
            ),
            endpoint.name,
        )
    except pybreaker.CircuitBreakerError as exc:
        cause = breaker.original_error(exc)
        if cause is not None:  # this call failed and tripped the breaker: its own error is the reason
            logger.warning("ticket %s: %s failed (%s) and its breaker opened", ticket.pk, endpoint.model, cause.reason)
            return _Skipped(cause.reason, str(cause))
        return _Skipped(FallbackReason.BREAKER_OPEN, str(exc))
    except llm.LLMError as exc:
        logger.warning("ticket %s: %s failed (%s): %s", ticket.pk, endpoint.model, exc.reason, exc)
        return _Skipped(exc.reason, str(exc))
    outcome = _llm_outcome(result, categories, chain.rules, _SOURCES[endpoint.name])
    if given is not None and given.entities:
        outcome.entities = keywords.merge_entities(given.entities, outcome.entities)
    return finish(outcome, ticket, chain.rules, sources)


def _run_chain(ticket: Ticket, chain: _Chain, given: llm.Given | None = None) -> Outcome:
    """The chain's order, in one place: the LLM, then the fallback model (LLM_FALLBACK_MODEL), each behind
    its own breaker when configured and allowed, then the learned model where it is confident, then the
    keyword rules, which always answer. Whoever answers after the LLM, the outcome says why the LLM did not
    (and a later answer's detail also why the fallback model did not). `given`: what the caller decided."""
    first = (
        _ask(ticket, chain, chain.primary, given)
        if chain.primary.configured
        else _Skipped(FallbackReason.NOT_CONFIGURED)
    )
    if isinstance(first, Outcome):
        return first
    if chain.fallback.configured:
        second = _ask(ticket, chain, chain.fallback, given)
        if isinstance(second, Outcome):
            return replace(second, fallback_reason=first.reason, fallback_detail=first.detail[:500])
        why = f"fallback {chain.fallback.model}: {second.reason}: {second.detail}"
        first = _Skipped(first.reason, f"{first.detail} | {why}" if first.detail else why)
    return _fallback_outcome(ticket, first.reason, first.detail, chain, given)


def _with_customer(ticket: Ticket, outcome: Outcome, chain: _Chain) -> Outcome:
    """The customer rules (customers.rules) on the chain's answer: priority floors for VIPs and plans, risk
    for repeat contacts. The explanation records the context and what it changed; the reasoning says so."""
    found = chain.customers.get(ticket.pk)
    if found is None or outcome.source == Source.HUMAN:
        return outcome
    result = customer_rules.apply(
        outcome.priority, outcome.risk, outcome.team, found.facts(outcome.category), chain.customer_rules
    )
    outcome.priority, outcome.risk, outcome.team = result.priority, result.risk, result.team
    outcome.explanation["customer"] = {
        **found.summary(),
        "repeats_same_category": found.repeats(outcome.category),
        "in_prompt": outcome.source in (Source.LLM, Source.LLM_FALLBACK) and chain.prompt_context(ticket) is not None,
        "changes": result.changes,
    }
    if result.changes:
        outcome.reasoning = f"{outcome.reasoning} {customer_rules.sentence(result.changes)}".strip()
    return outcome


def _run_chain_for_customer(ticket: Ticket, chain: _Chain) -> Outcome:
    return _with_customer(ticket, _run_chain(ticket, chain), chain)


def run_chain_within(ticket: Ticket, seconds: float, given: llm.Given | None = None) -> Outcome:
    """The chain for one ticket that is not claimed (nor perhaps saved), answered within `seconds`: the LLM
    call runs on this process's LLM threads, and if it has not answered by then the keyword rules answer
    with reason `timeout`. The call itself finishes on its thread (bounded by LLM_TIMEOUT_SECONDS), so the
    breaker still hears how it went."""
    chain = _Chain()
    chain.read_sources([ticket])
    if not chain.calls_llm():
        return _run_chain(ticket, chain, given)
    future = _llm_threads().submit(_run_chain_on_llm_thread, contextvars.copy_context(), ticket, chain, given)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()  # still waiting for a thread: it never starts
        detail = f"no answer within {seconds:g} s"
        return _fallback_outcome(ticket, FallbackReason.TIMEOUT, detail, chain, given)


def current_fields(ticket: Ticket, outcome: Outcome) -> dict[str, Any]:
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
        "missing_info": outcome.missing_info,
        "due_at": ticket.sla_due(outcome.priority),
    }


def event_detail(outcome: Outcome) -> dict[str, Any]:
    """What a ticket.classified or ticket.corrected event records of the classification (events.schemas)."""
    return {
        "classification": {
            "source": outcome.source,
            "category": outcome.category,
            "priority": outcome.priority,
            "sentiment": outcome.sentiment,
            "risk": outcome.risk,
            "team": outcome.team,
            "confidence": outcome.confidence,
            "fallback_reason": outcome.fallback_reason,
            "customer_rules": [change["rule"] for change in outcome.explanation.get("customer", {}).get("changes", [])],
            "summary": outcome.summary,
            "secondary_categories": [
                {"category": entry["category"], "confidence": entry["confidence"]}
                for entry in outcome.secondary_categories
            ],
            "urgency_indicators": outcome.urgency_indicators,
            "reasoning": outcome.reasoning,
            "missing_info": outcome.missing_info,
        }
    }


def _persist(claimed_at: datetime, results: list[tuple[Ticket, Outcome]]) -> list[Classification]:
    """One transaction for any number of tickets: lock the ones whose claim is still ours, insert their
    history rows in one INSERT and their current fields in one UPDATE. A ticket whose claim was taken over
    meanwhile (corrected by a person, or taken by another worker after ours went stale) gets nothing."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Ticket.objects.filter(pk__in=[ticket.pk for ticket, _ in results]).claimed_at(claimed_at)
        ours = set(claimed.select_for_update().order_by("pk").values_list("pk", flat=True))
        kept = [(ticket, outcome) for ticket, outcome in results if ticket.pk in ours]
        current = {ticket.pk: current_fields(ticket, outcome) for ticket, outcome in kept}
        rows = Classification.objects.bulk_create(
            [Classification(ticket=ticket, created=now, **outcome.row_fields()) for ticket, outcome in kept]
        )
        save_citations([(row, outcome.citations) for row, (_, outcome) in zip(rows, kept, strict=True)])
        Ticket.objects.complete(claimed_at=claimed_at, now=now, current=current)
        # ticket.classified, in the same transaction as the classification it reports.
        outbox.record(EventType.TICKET_CLASSIFIED, [t.pk for t, _ in kept], [event_detail(o) for _, o in kept], now=now)
    for ticket, _ in results:
        if ticket.pk not in ours:
            logger.warning("ticket %s: claim taken over (corrected, or by another worker); result dropped", ticket.pk)
    return rows


@dataclass
class ChunkResult:
    """What `classify_tickets` did: the history rows it stored, and the tickets it gave back unfinished
    (its time ran out) for the caller to publish again."""

    classified: list[Classification] = field(default_factory=list)
    released: list[int] = field(default_factory=list)


def _log_chunk(ticket_ids: Sequence[int], rows: list[Classification], kept: int) -> None:
    if len(ticket_ids) == 1 and len(rows) == 1:
        row = rows[0]
        logger.info(
            "ticket %s classified: source=%s category=%s reason=%s",
            row.ticket_id,
            row.source,
            row.category,
            row.fallback_reason or "-",
        )
        return
    sources = Counter(row.source for row in rows)
    by_source = " ".join(f"{source}={n}" for source, n in sorted(sources.items())) or "none"
    logger.info(
        "%d of %d tickets classified (%s), %d kept their human correction; ids %s..%s",
        len(rows),
        len(ticket_ids),
        by_source,
        kept,
        min(ticket_ids),
        max(ticket_ids),
    )


def classify_tickets(
    ticket_ids: Sequence[int], *, force: bool = False, claim_token: str = "", deadline: float | None = None
) -> ChunkResult:
    """Classify a chunk of tickets: claim them all in one UPDATE (each ticket claimed or not on its own),
    run the chain for each, and store each result with its history row, written together in one
    transaction (every second at least, so slow LLM answers are not held back by the rest of the chunk).
    Safe to run twice: tickets already classified, or held by another worker, are not claimed again.
    A human correction wins: without `force` such a ticket keeps it and no automatic result is stored.
    `claim_token` (the task message's id) lets a retry of the same message take back its own claims.
    Past `deadline` (time.monotonic()), the tickets not started yet are released and returned."""
    ticket_ids = list(ticket_ids)
    tickets, claimed_at = _claim(ticket_ids, claim_token)
    result = ChunkResult()
    if not tickets:
        logger.info("tickets %s: nothing to claim (missing, done, or being classified)", ticket_ids[:10])
        return result
    kept = [t.pk for t in tickets if t.is_human_corrected and not force]
    if kept:
        Ticket.objects.filter(pk__in=kept).keep_classified(claimed_at=claimed_at)
        logger.info("tickets %s: human correction kept", kept[:10])
    todo = [t for t in tickets if t.pk not in set(kept)]
    try:
        result.classified, result.released = _classify_claimed(todo, claimed_at, deadline)
    except BaseException:
        _release([t.pk for t in todo], claimed_at)
        raise
    _log_chunk(ticket_ids, result.classified, len(kept))
    return result


# Results are written at least this often while a chunk is classified, so a ticket's answer is not held
# back by slow LLM calls for the rest of its chunk.
_PERSIST_EVERY_SECONDS = 1.0

_executor_lock = threading.Lock()
_executor: tuple[int, int, ThreadPoolExecutor] | None = None


def _llm_threads() -> ThreadPoolExecutor:
    """This process's LLM threads: LLM_CONCURRENCY calls in flight at most, shared by every task the
    process runs. Built on first use in each process (never inherited across a fork)."""
    global _executor
    with _executor_lock:
        if _executor is None or _executor[:2] != (os.getpid(), settings.LLM_CONCURRENCY):
            threads = ThreadPoolExecutor(max_workers=settings.LLM_CONCURRENCY, thread_name_prefix="llm")
            _executor = (os.getpid(), settings.LLM_CONCURRENCY, threads)
        return _executor[2]


def _run_chain_on_llm_thread(
    context: contextvars.Context, ticket: Ticket, chain: _Chain, given: llm.Given | None = None
) -> Outcome:
    def run() -> Outcome:
        logcontext.bind(ticket_id=ticket.pk)  # the task's request and task ids, and this ticket's
        try:
            return _with_customer(ticket, _run_chain(ticket, chain, given), chain)
        finally:
            # The breaker's database storage (without Redis) opens a connection on this thread: like a
            # request's, it is dropped once broken or older than DB_CONN_MAX_AGE.
            close_old_connections()

    return context.run(run)


def _classify_on_llm_threads(
    tickets: list[Ticket], claimed_at: datetime, deadline: float | None, chain: _Chain
) -> tuple[list[Classification], list[int]]:
    """Run every ticket's chain on this process's LLM threads, so a chunk's LLM calls are in flight
    together, and write the answers as they come, every second at least. Past `deadline` the tickets
    not started yet are released and returned."""
    futures = {
        _llm_threads().submit(_run_chain_on_llm_thread, contextvars.copy_context(), ticket, chain): ticket
        for ticket in tickets
    }
    waiting: set[Future[Outcome]] = set(futures)
    stored: list[Classification] = []
    pending: list[tuple[Ticket, Outcome]] = []
    released: list[int] = []
    written = time.monotonic()
    try:
        while waiting:
            timeout = _PERSIST_EVERY_SECONDS
            if deadline is not None:
                timeout = min(timeout, max(deadline - time.monotonic(), 0.0))
            done, waiting = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
            pending += [(futures[future], future.result()) for future in done]
            if deadline is not None and time.monotonic() >= deadline and waiting:
                not_started = {future for future in waiting if future.cancel()}
                waiting -= not_started
                released += [futures[future].pk for future in not_started]
                deadline = None  # what runs now finishes (each call is bounded by LLM_TIMEOUT_SECONDS)
            if pending and (not waiting or time.monotonic() - written >= _PERSIST_EVERY_SECONDS):
                stored += _persist(claimed_at, pending)
                pending, written = [], time.monotonic()
    except BaseException:
        for future in futures:
            future.cancel()  # those already running finish on their own; their answers are dropped
        raise
    if released:
        released = [ticket.pk for ticket in tickets if ticket.pk in set(released)]  # in the chunk's order
        _release(released, claimed_at)
        logger.warning("%d tickets released unfinished: the task's time limit is near", len(released))
    return stored, released


def _classify_claimed(
    tickets: list[Ticket], claimed_at: datetime, deadline: float | None
) -> tuple[list[Classification], list[int]]:
    chain = _Chain()
    chain.read_customers(tickets)  # two aggregate queries for the chunk, and the customers seen for the first time
    chain.read_sources(tickets)  # two queries for the chunk: its knowledge-base sources
    gaps.record(chain.sources)  # and one write: their content-gap scores
    if chain.calls_llm():
        return _classify_on_llm_threads(tickets, claimed_at, deadline, chain)
    if chain.learned is not None:
        chain.learned.prepare(tickets)  # one batch for the chunk
    stored: list[Classification] = []
    pending: list[tuple[Ticket, Outcome]] = []
    written = time.monotonic()
    for index, ticket in enumerate(tickets):
        if deadline is not None and time.monotonic() > deadline:
            rest = [t.pk for t in tickets[index:]]
            _release(rest, claimed_at)
            logger.warning("%d tickets released unfinished: the task's time limit is near", len(rest))
            stored += _persist(claimed_at, pending) if pending else []
            return stored, rest
        pending.append((ticket, _run_chain_for_customer(ticket, chain)))
        if time.monotonic() - written >= _PERSIST_EVERY_SECONDS:
            stored += _persist(claimed_at, pending)
            pending, written = [], time.monotonic()
    if pending:
        stored += _persist(claimed_at, pending)
    return stored, []


def classify_ticket(ticket_id: int, *, force: bool = False, claim_token: str = "") -> Classification | None:
    """Classify one ticket (`classify_tickets` with one id): its history row, or None when there was
    nothing to claim, a human correction was kept, or the claim was taken over."""
    rows = classify_tickets([ticket_id], force=force, claim_token=claim_token).classified
    return rows[0] if rows else None


def mark_failed(ticket_ids: Sequence[int], error: str) -> None:
    """The task gave up on these tickets: keep the ones not classified by now, visibly failed, with the
    error. If the database cannot take that either, they stay queued or claimed and the sweep sends them
    again later."""
    try:
        Ticket.objects.filter(pk__in=list(ticket_ids)).fail(error)
    except DatabaseError:
        logger.warning("tickets %s: not marked failed (database unavailable); the sweep retries them", ticket_ids)
        return
    logger.warning("tickets %s failed: %s", list(ticket_ids)[:10], error[:200])


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
    ticket: Ticket,
    author: User | None,
    values: dict[str, str],
    categories: dict[str, tuple[str, list[str]]],
    entities: dict[str, Any],
    now: datetime,
) -> Classification:
    """A person's classification of one ticket: fields not given keep the ticket's current values. The team:
    the one given; `team: ""` routes by the category (critical: escalation); no `team` at all keeps a team
    someone chose by hand (one other than the routing's) and otherwise routes by the new category. What the
    ticket lacks is worked out again for the category it now has, from the entities last extracted from it
    (`categories`: slug → (team, required information))."""
    teams = {slug: team for slug, (team, _) in categories.items()}
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
        missing_info=_missing(ticket, categories[category][1], entities),
    )
    automatic = ticket.classification_source in (Source.LLM, Source.LLM_FALLBACK, Source.LEARNED, Source.KEYWORD)
    return Classification(
        ticket=ticket,
        author=author,
        created=now,
        replaced_category=ticket.category if automatic else "",
        **outcome.row_fields(),
    )


def _missing(ticket: Ticket, required: Sequence[str], entities: dict[str, Any]) -> list[str]:
    """The required information the ticket lacks (none when extraction is off for it): what its entities do not
    give, counting the email its own field carries."""
    if not options.resolve(ticket.options).extract:
        return []
    return info.missing_info(required, entities, ["email"] if ticket.customer_email else [])


def _last_entities(ticket_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each ticket's entities from its latest automatic classification (people don't extract any)."""
    rows = (
        Classification.objects.filter(ticket_id__in=list(ticket_ids))
        .exclude(source=Source.HUMAN)
        .order_by("ticket_id", "-created", "-pk")
        .values_list("ticket_id", "entities")
    )
    latest: dict[int, dict[str, Any]] = {}
    for ticket_id, entities in rows:
        latest.setdefault(ticket_id, entities or {})
    return latest


def _as_outcome(row: Classification) -> Outcome:
    return Outcome(
        source=row.source,
        category=row.category,
        priority=row.priority,
        sentiment=row.sentiment,
        risk=row.risk,
        team=row.team,
        confidence=row.confidence,
        summary=row.summary,
        suggested_reply="",
        missing_info=row.missing_info,
    )


def record_corrections(ticket_ids: Sequence[int], author: User | None, values: dict[str, str]) -> list[Classification]:
    """People's classifications of many tickets at once (the list's bulk actions, confirming several in
    review, a labeled import with no author): one history row each with its author, and each becomes its
    ticket's current classification. Values not given keep each ticket's own (so confirming keeps
    everything, a hand-chosen team included). Tickets with no category to keep and none given are skipped.
    One transaction: a bulk insert of the history, then one UPDATE per distinct set of new values, and one
    audit entry naming every ticket."""
    now = timezone.now()
    with transaction.atomic():
        tickets = list(Ticket.objects.select_for_update().filter(pk__in=list(ticket_ids)).defer("body").order_by("pk"))
        categories = {
            slug: (team, list(required or []))
            for slug, team, required in Category.objects.values_list("slug", "team", "required_info")
        }
        entities = _last_entities([t.pk for t in tickets])
        rows = [
            _correction(t, author, values, categories, entities.get(t.pk, {}), now)
            for t in tickets
            if (values.get("category") or t.category) in categories
        ]
        Classification.objects.bulk_create(rows)
        by = author.get_username() if author is not None else None
        outbox.record(
            EventType.TICKET_CORRECTED,
            [row.ticket_id for row in rows],
            [
                {**event_detail(_as_outcome(row)), "author": by, "replaced_category": row.replaced_category}
                for row in rows
            ],
            now=now,
        )
        groups: dict[tuple[str, str, str, str, tuple[str, ...]], list[int]] = {}
        for row in rows:
            key = (row.category, row.priority, row.sentiment, row.team, tuple(row.missing_info))
            groups.setdefault(key, []).append(row.ticket_id)
        for (category, priority, sentiment, team, missing), ids in groups.items():
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
                missing_info=list(missing),
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
    logger.info("%d tickets corrected by user %s", len(rows), author.pk if author else "- (import)")
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
    outage = Q(
        status=Status.CLASSIFIED,
        classification_source__in=[Source.KEYWORD, Source.LEARNED],
        fallback_reason__in=OUTAGE_REASONS,
    )
    if breaker.status()["state"] != pybreaker.STATE_CLOSED and not _recovery_trial(outage):
        return []
    with transaction.atomic():
        ids = list(Ticket.objects.filter(outage).order_by("classified_at").values_list("pk", flat=True)[:limit])
        # Filtered again: a correction saved since the select must not be requeued.
        Ticket.objects.filter(outage, pk__in=ids).requeue(from_statuses=[Status.CLASSIFIED])
    return ids


def breaker_status() -> dict[str, Any]:
    """The LLM's breaker (the API's, the dashboard's and the metrics' top level) and, when a fallback model is
    configured, its own under `fallback` (None otherwise)."""
    second = llm.fallback()
    fallback = {**breaker.status(second.name), "model": second.model} if second.configured else None
    return {
        **breaker.status(),
        "llm_configured": llm.is_configured(),
        "model": settings.LLM_MODEL,
        "fallback": fallback,
    }


def longest_llm_wait() -> float:
    """The longest one ticket may wait on the models: the LLM's timeout, plus the fallback model's."""
    return sum(endpoint.timeout for endpoint in (llm.primary(), llm.fallback()) if endpoint.configured) or float(
        settings.LLM_TIMEOUT_SECONDS
    )


def llm_configured() -> bool:
    return llm.is_configured()


def llm_category(subject: str, body: str) -> str:
    """The LLM's category for one text, straight (no breaker, nothing stored): for `evaluate`.
    Raises llm.LLMError when the LLM gives no usable answer."""
    categories, teams = llm_choices()
    return llm.classify(subject, body, "", categories, teams).category
