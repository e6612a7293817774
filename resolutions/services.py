"""Specialist resolution: after triage, the specialist for the ticket's category drafts a resolution (one LLM
call, on the classification's breaker and daily budget); without the LLM, the category's reply template and the
best articles make the draft. Agents accept (perhaps after editing) or reject it; an accepted draft resolves
the ticket, recording whether the specialist's words or a person's did."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pybreaker
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from classification import breaker, llm
from classification import services as classification
from classification.keywords.reply import render_reply, with_tone
from classification.models import Category, Classification, FallbackReason
from knowledge import grounding
from knowledge.models import Article
from resolutions import defaults
from resolutions.models import EDITABLE_FIELDS, Draft, DraftSource, DraftStatus, Specialist
from tickets import workflow
from tickets.models import ResolvedBy, Status, Ticket, WorkState

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"\[(\d{1,3})\]")


class DecisionRefused(Exception):
    """The draft is not open to a decision (still being drafted, or already accepted or rejected)."""


def tokens_spent_since(since: datetime) -> int:
    """The specialists' tokens since `since`: counted on the LLM's daily budget (classification.services)."""
    spent = Draft.objects.filter(source=DraftSource.LLM, created__gte=since).aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"))
    )
    return int(spent["tokens"] or 0)


# ---- the sources the reply may cite (knowledge.grounding) -----------------------------------------------


def _citation(source: grounding.Source) -> dict[str, Any]:
    return {
        "n": source.number,
        "article_id": source.article_id,
        "chunk_id": source.chunk_id,
        "rank": source.rank,
        "title": source.article_title,
        "heading": source.heading,
        "page": source.page,
    }


def shown_citations(draft: Draft) -> list[dict[str, Any]]:
    """The draft's citations as the ticket page's citation list shows them (tickets/partials/citations.html): an
    article deleted since has no link (one query for the draft)."""
    ids = {c["article_id"] for c in draft.citations if c.get("article_id")}
    existing = set(Article.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    return [
        {**c, "article_id": c.get("article_id") if c.get("article_id") in existing else None} for c in draft.citations
    ]


def _cited(numbers: list[int], reply: str, sources: list[grounding.Source]) -> list[grounding.Source]:
    """The sources the answer cites (its list and the [n] marks in its reply), in order; a number that is not
    one of the sources given makes the answer invalid (`invalid_output`, like any answer off the schema)."""
    marked = [int(n) for n in _CITATION.findall(reply)]
    try:
        cited = grounding.validate_citations(list(dict.fromkeys([*numbers, *marked])), sources)
    except grounding.CitationError as exc:
        raise llm.LLMError(FallbackReason.INVALID_OUTPUT, f"the draft {exc}") from exc
    return sorted(cited, key=lambda source: source.number)


# ---- drafting -----------------------------------------------------------------------------------------------


def _stale_before() -> datetime:
    # A drafting row older than the hard time limit belongs to a worker that died: it may be taken over.
    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)


def _claim(ticket: Ticket, row: Classification, specialist: Specialist | None) -> Draft | None:
    """The draft row for this classification, created `drafting` by this call (or taken over from a dead
    worker); None when another call holds it or drafted it already. A redelivered task gets None."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return Draft.objects.create(
                ticket=ticket,
                classification=row,
                category=row.category,
                specialist=specialist,
                created=now,
                updated=now,
            )
    except IntegrityError:
        pass  # drafted, or being drafted, for this classification
    taken = Draft.objects.filter(classification=row, status=DraftStatus.DRAFTING, updated__lt=_stale_before()).update(
        updated=now, specialist=specialist
    )
    return Draft.objects.get(classification=row) if taken else None


def _category_choice(category: Category | None, slug: str) -> llm.CategoryChoice:
    if category is None:
        return llm.CategoryChoice(slug=slug, name=slug.replace("_", " "), description="", team="")
    return llm.CategoryChoice(
        slug=category.slug, name=category.name, description=category.description, team=category.team
    )


def _triage(ticket: Ticket, row: Classification) -> dict[str, Any]:
    return {
        "category": row.category,
        "priority": row.priority,
        "sentiment": row.sentiment,
        "summary": row.summary,
        "entities": row.entities,
        "missing_info": ticket.missing_info,
    }


@dataclass
class _Answer:
    source: str
    diagnosis: str
    steps: list[str]
    reply: str
    can_close: bool
    citations: list[dict[str, Any]]
    fallback_reason: str = ""
    fallback_detail: str = ""
    model_name: str = ""
    prompt_version: str = ""
    latency_ms: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Any = None


def _ask_specialist(
    ticket: Ticket,
    row: Classification,
    category: Category | None,
    specialist: Specialist | None,
    sources: list[grounding.Source],
) -> _Answer:
    """The specialist's model through the LLM's breaker; raises LLMError (with its fallback reason) or
    pybreaker.CircuitBreakerError when it gives no usable answer."""
    endpoint = llm.primary()
    if specialist is not None and specialist.model_name:
        endpoint = replace(endpoint, model=specialist.model_name)
    if not endpoint.configured:
        raise llm.LLMError(FallbackReason.NOT_CONFIGURED, "no LLM configured")
    if classification.llm_over_budget():
        raise llm.LLMError(FallbackReason.OVER_BUDGET, f"daily token budget of {settings.LLM_MODEL} spent")
    instructions = specialist.instructions if specialist is not None else defaults.instructions_for(row.category)
    result = breaker.call(
        lambda: llm.resolve(
            {"subject": ticket.subject, "body": ticket.body},
            _triage(ticket, row),
            grounding.prompt_block(sources) or "<sources>[]</sources>",
            _category_choice(category, row.category),
            instructions,
            endpoint=endpoint,
        ),
        endpoint.name,
    )
    cited = _cited(result.citations, result.reply, sources)
    return _Answer(
        source=DraftSource.LLM,
        diagnosis=result.diagnosis,
        steps=result.steps,
        reply=result.reply,
        can_close=result.can_close,
        citations=[_citation(source) for source in cited],
        model_name=result.model_name,
        prompt_version=result.prompt_version,
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=result.cost_usd,
    )


# The template's placeholders, with the stand-ins the keyword classifier's replies use when the ticket lacks one.
_PLACEHOLDERS = (
    ("order_id", "order_ids", "your order"),
    ("error_code", "error_codes", "the error"),
    ("amount", "amounts", "the amount"),
    ("url", "urls", "the page"),
)


def _template_values(ticket: Ticket, row: Classification) -> dict[str, str]:
    entities = row.entities or {}
    values = {
        "customer_name": ticket.customer_name or "there",
        "team": row.team,
        "category": row.category.replace("_", " "),
        "email": ticket.customer_email or "your email address",
    }
    for name, key, stand_in in _PLACEHOLDERS:
        found = entities.get(key) or []
        values[name] = str(found[0]) if found else stand_in
    return values


def _template_answer(
    ticket: Ticket,
    row: Classification,
    category: Category | None,
    sources: list[grounding.Source],
    reason: str,
    detail: str,
) -> _Answer:
    """Without the specialist's model: the category's reply template followed by the grounded paragraph
    (knowledge.grounding: the best passage quoted, the best articles named), and steps that point the agent
    at those articles. Never claims the ticket can be closed."""
    reply = render_reply(category.reply_template if category is not None else "", _template_values(ticket, row))
    cited = grounding.fallback_citations(sources, row.category)
    grounded = grounding.fallback_reply(sources, row.category)
    steps = [f"Read {source.label()}." for source in cited]
    steps.append("Check the reply against the ticket, complete it, and send it.")
    label = FallbackReason(reason).label if reason in FallbackReason.values else reason
    diagnosis = (
        f"{row.summary or ticket.subject} — no specialist model answered ({label}); this draft is the category's "
        "reply template and the best matching articles."
    )
    return _Answer(
        source=DraftSource.TEMPLATE,
        diagnosis=diagnosis.strip(),
        steps=steps,
        # In the tone the classification's reply took (the category's, or the one asked for), the grounded
        # paragraph before the sign-off.
        reply=with_tone(reply, row.reply_tone or "friendly", grounded),
        can_close=False,
        citations=[_citation(source) for source in cited],
        fallback_reason=reason,
        fallback_detail=detail[:500],
    )


def _answer(job: _Job, sources: list[grounding.Source]) -> _Answer:
    try:
        return _ask_specialist(job.ticket, job.row, job.category, job.specialist, sources)
    except pybreaker.CircuitBreakerError as exc:
        cause = breaker.original_error(exc)
        reason, detail = (cause.reason, str(cause)) if cause is not None else (FallbackReason.BREAKER_OPEN, str(exc))
    except llm.LLMError as exc:
        reason, detail = exc.reason, str(exc)
    if reason != FallbackReason.NOT_CONFIGURED:
        logger.warning("ticket %s: specialist draft from the template (%s)", job.ticket.pk, reason)
    return _template_answer(job.ticket, job.row, job.category, sources, reason, detail)


def _store(draft: Draft, answer: _Answer) -> Draft | None:
    """Write the answer if the claim is still ours (identified by its `updated` time, as a ticket's claim by
    its `status_changed`): a worker whose stale claim was taken over writes nothing."""
    now = timezone.now()
    fields = {**vars(answer), "status": DraftStatus.PROPOSED, "updated": now}
    if not Draft.objects.filter(pk=draft.pk, status=DraftStatus.DRAFTING, updated=draft.updated).update(**fields):
        logger.warning("draft %s: claim taken over by another worker; answer dropped", draft.pk)
        return None
    for name, value in fields.items():
        setattr(draft, name, value)
    return draft


# A chunk's tickets are read once; a ticket drafted later than this after that read (behind other tickets' LLM
# calls) is read again before its own: it may have been resolved or reclassified meanwhile.
RECHECK_AFTER_SECONDS = 2.0


@dataclass(frozen=True)
class _Job:
    """What drafting one ticket reads: the ticket, its latest classification, its category's specialist (None:
    the general instructions) and the category."""

    ticket: Ticket
    row: Classification
    specialist: Specialist | None
    category: Category | None


def _jobs(ticket_ids: list[int]) -> dict[int, _Job]:
    """The tickets to draft, by id, in four queries for the chunk: classified and not resolved, with a
    classification, their category's specialist active (or none)."""
    tickets = {
        t.pk: t
        for t in Ticket.objects.filter(pk__in=ticket_ids, status=Status.CLASSIFIED).exclude(state=WorkState.RESOLVED)
    }
    latest: dict[int, Classification] = {}
    for row in Classification.objects.filter(ticket__in=list(tickets)).order_by("-created", "-id"):
        latest.setdefault(row.ticket_id, row)
    slugs = {row.category for row in latest.values()}
    specialists = {
        s.category.slug: s for s in Specialist.objects.filter(category__slug__in=slugs).select_related("category")
    }
    categories = {c.slug: c for c in Category.objects.filter(slug__in=slugs)}
    jobs: dict[int, _Job] = {}
    for pk, row in latest.items():
        specialist = specialists.get(row.category)
        if specialist is None or specialist.active:
            jobs[pk] = _Job(tickets[pk], row, specialist, categories.get(row.category))
    return jobs


def _draft(job: _Job, sources: list[grounding.Source]) -> Draft | None:
    draft = _claim(job.ticket, job.row, job.specialist)
    if draft is None:
        logger.info("ticket %s: classification %s drafted already (or being drafted)", job.ticket.pk, job.row.pk)
        return None
    try:
        stored = _store(draft, _answer(job, sources))
    except BaseException:
        # The retry drafts it afresh (unless another worker took the claim over meanwhile).
        Draft.objects.filter(pk=draft.pk, status=DraftStatus.DRAFTING, updated=draft.updated).delete()
        raise
    if stored is not None:
        logger.info("ticket %s: resolution draft %s (%s)", job.ticket.pk, stored.pk, stored.source)
    return stored


def _draft_many(ticket_ids: list[int], deadline: float | None) -> tuple[dict[int, Draft], list[int]]:
    """The drafts made, by ticket id, and the ids not started (past `deadline`, time.monotonic()). The chunk's
    tickets, classifications, specialists and categories load in four queries and its sources in one
    retrieval (knowledge.grounding.retrieve_many); then each ticket is claimed, answered (one LLM call at most)
    and stored in turn."""
    if not settings.RESOLUTION_ENABLED:
        return {}, []
    jobs = _jobs(ticket_ids)
    for ticket_id in ticket_ids:
        if ticket_id not in jobs:
            logger.info("ticket %s: no draft (missing, not classified, resolved, or specialist inactive)", ticket_id)
    wanted = [pk for pk in dict.fromkeys(ticket_ids) if pk in jobs]
    found = grounding.retrieve_many([(jobs[pk].ticket.subject, jobs[pk].ticket.body) for pk in wanted])
    sources = dict(zip(wanted, found, strict=True))
    read_at = time.monotonic()
    drafts: dict[int, Draft] = {}
    for index, ticket_id in enumerate(ticket_ids):
        if deadline is not None and time.monotonic() > deadline:
            logger.info("%d tickets left for another drafting task: the time limit is near", len(ticket_ids) - index)
            return drafts, list(ticket_ids[index:])
        job = jobs.get(ticket_id)
        if job is None or ticket_id in drafts:
            continue
        if time.monotonic() - read_at > RECHECK_AFTER_SECONDS and not _still_current(job):
            logger.info("ticket %s: no draft (resolved, reclassified or its specialist switched off since)", ticket_id)
            continue
        draft = _draft(job, sources[ticket_id])
        if draft is not None:
            drafts[ticket_id] = draft
    return drafts, []


def _still_current(job: _Job) -> bool:
    """Whether the ticket is still to be drafted from the same classification by the same specialist: what a
    chunk read may be stale by the time its later tickets' LLM calls start."""
    fresh = _jobs([job.ticket.pk]).get(job.ticket.pk)
    return fresh is not None and fresh.row.pk == job.row.pk and fresh.specialist == job.specialist


def draft_resolution(ticket_id: int) -> Draft | None:
    """Draft the resolution of one classified ticket, once per classification: None when drafts are off, the
    ticket is missing, not classified, resolved already, its category's specialist is inactive, or this
    classification was drafted (or is being drafted) already. Safe to run twice; a draft left `drafting` by
    a worker that died is taken over once stale."""
    return _draft_many([ticket_id], None)[0].get(ticket_id)


def draft_resolutions(ticket_ids: list[int], *, deadline: float | None = None) -> list[int]:
    """`draft_resolution` for a chunk of tickets, its reads batched (`_draft_many`). Past `deadline`
    (time.monotonic()) no further ticket is started: the ids not started are returned, for the caller to
    publish again."""
    return _draft_many(list(ticket_ids), deadline)[1]


# ---- decisions ------------------------------------------------------------------------------------------------


def latest_draft(ticket: Ticket) -> Draft | None:
    return Draft.objects.filter(ticket=ticket).select_related("decided_by").order_by("-created", "-id").first()


def _text(value: Any) -> str:
    # A browser posts a textarea's line breaks as CRLF, and forms strip the ends: neither is an edit.
    return str(value).replace("\r\n", "\n").strip()


def _changes(draft: Draft, edits: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each edited field's old and new value; a value equal to the draft's but for line endings and the
    surrounding blanks is no edit."""
    changes = {}
    for name in EDITABLE_FIELDS:
        if name not in edits or edits[name] is None:
            continue
        old, new = getattr(draft, name), edits[name]
        if name == "steps":
            same = [_text(step) for step in old] == (new := [_text(s) for s in new if _text(s)])
        else:
            same = _text(old) == (new := _text(new))
        if not same:
            changes[name] = {"old": old, "new": new}
    return changes


def _decide(draft: Draft, user: User, status: str, **fields: Any) -> Draft:
    """Lock the draft and record the decision on it; refused unless it is proposed."""
    locked = Draft.objects.select_for_update().filter(pk=draft.pk).first()
    if locked is None or locked.status != DraftStatus.PROPOSED:
        current = locked.get_status_display().lower() if locked is not None else "gone"
        raise DecisionRefused(f"This draft is {current}; only a proposed draft can be accepted or rejected.")
    for name, value in fields.items():
        setattr(locked, name, value)
    now = timezone.now()
    locked.status, locked.decided_by, locked.decided_at, locked.updated = status, user, now, now
    locked.save(update_fields=[*fields, "status", "decided_by", "decided_at", "updated"])
    return locked


def accept(draft: Draft, user: User, edits: dict[str, Any] | None = None) -> Draft:
    """Accept the draft, with the agent's edits (diagnosis, steps, reply) if any: recorded on the draft (who,
    when, each field's old and new value) and in the audit log; the ticket is resolved (if it may move there),
    by the specialist when accepted as written, by a person when edited."""
    with transaction.atomic():
        changes = _changes(draft, edits or {})
        values = {name: change["new"] for name, change in changes.items()}
        decided = _decide(draft, user, DraftStatus.ACCEPTED, changes=changes, **values)
        resolved_by = ResolvedBy.HUMAN if changes else ResolvedBy.SPECIALIST
        moved = workflow.change_state([decided.ticket_id], WorkState.RESOLVED, actor=user, resolved_by=resolved_by)
        detail = {"draft": decided.pk, "edited": sorted(changes), "resolved_by": resolved_by, "resolved": bool(moved)}
        audit.record(Action.RESOLUTION_ACCEPTED, actor=user, target=f"ticket:{decided.ticket_id}", detail=detail)
    logger.info("ticket %s: draft %s accepted by user %s", decided.ticket_id, decided.pk, user.pk)
    return decided


def reject(draft: Draft, user: User, note: str = "") -> Draft:
    """Reject the draft (with the agent's reason, if given): recorded on it and in the audit log; the ticket
    is left as it is."""
    with transaction.atomic():
        decided = _decide(draft, user, DraftStatus.REJECTED, note=note.strip()[:2000])
        detail = {"draft": decided.pk, "note": decided.note[:200]}
        audit.record(Action.RESOLUTION_REJECTED, actor=user, target=f"ticket:{decided.ticket_id}", detail=detail)
    logger.info("ticket %s: draft %s rejected by user %s", decided.ticket_id, decided.pk, user.pk)
    return decided
