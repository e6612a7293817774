"""Similar tickets, likely duplicates and incidents: worked out by the worker after classification
(`process_classified`), and on demand (`similar_tickets`). Never in a request's write path, and safe to run
twice: similar links are replaced as a whole, a ticket joins one incident at most (a unique constraint), and
an incident is opened under row locks on its tickets, so two workers never open two for one burst."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Case, Count, DateTimeField, ExpressionWrapper, F, Max, Min, Value, When
from django.http import HttpRequest
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from classification.keywords.reply import with_tone
from classification.models import Classification
from incidents import similarity
from incidents.context_processors import forget_open_incidents
from incidents.models import Incident, IncidentStatus, IncidentTicket, SimilarTicket
from search import backends as search
from tickets.models import SLA, Priority, Source, Status, Ticket

logger = logging.getLogger(__name__)

# What similarity reads of a ticket.
_FIELDS = ("subject", "body", "category", "status", "customer_email", "customer_id", "created", "duplicate_of")
# Same-customer tickets looked at for duplicates beside the text search's candidates.
SAME_CUSTOMER_SHOWN = 20
# Priorities from the most urgent down: a floor raises those below it.
_URGENCY = [Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW]
# Shared terms and entities are worked out from at most this many of an incident's tickets.
INCIDENT_SAMPLE = 50


@dataclass(frozen=True)
class Found:
    ticket: Ticket
    score: float
    same_customer: bool


def customer_key(ticket: Ticket) -> str:
    return ticket.customer_id or ticket.customer_email.lower()


def _same_customer_recent(tickets: Sequence[Ticket]) -> dict[int, list[int]]:
    """Each ticket's same-customer tickets (by email) of the DUPLICATE_WINDOW_HOURS before it, newest first, at
    most SAME_CUSTOMER_SHOWN: one query for the chunk."""
    window = timedelta(hours=settings.DUPLICATE_WINDOW_HOURS)
    with_email = [t for t in tickets if t.customer_email]
    if not with_email:
        return {}
    rows = Ticket.objects.filter(
        customer_email__in={t.customer_email for t in with_email},
        created__gte=min(t.created for t in with_email) - window,
        created__lte=max(t.created for t in with_email),
    ).values_list("pk", "customer_email", "created")
    by_email: dict[str, list[tuple[Any, int]]] = {}
    for pk, email, created in rows:
        by_email.setdefault(email, []).append((created, pk))
    recent: dict[int, list[int]] = {}
    for ticket in with_email:
        mine = sorted(
            (
                (created, pk)
                for created, pk in by_email.get(ticket.customer_email, [])
                if pk != ticket.pk and ticket.created - window <= created <= ticket.created
            ),
            reverse=True,
        )
        recent[ticket.pk] = [pk for _, pk in mine[:SAME_CUSTOMER_SHOWN]]
    return recent


def find_similar_many(tickets: Sequence[Ticket], limit: int | None = None) -> dict[int, list[Found]]:
    """Each ticket's most similar tickets, best first: the text search's candidates for the whole chunk in one
    search (and the same customer's recent tickets), their rows in one query, each ticket's re-ranked by
    `similarity.rerank`."""
    limit = limit or settings.SIMILAR_TICKETS_STORED
    queries = [search.query_for(t.subject, t.body, t.pk) for t in tickets]
    found_ids = search.candidates_many(queries, limit=settings.SIMILAR_CANDIDATES)
    same_customer = _same_customer_recent(tickets)
    ids_of: dict[int, list[int]] = {}
    for ticket, ids in zip(tickets, found_ids, strict=True):
        seen = set(ids)
        ids_of[ticket.pk] = ids + [pk for pk in same_customer.get(ticket.pk, []) if pk not in seen]
    wanted = {pk for ids in ids_of.values() for pk in ids}
    rows = {t.pk: t for t in Ticket.objects.filter(pk__in=wanted).only(*_FIELDS)} if wanted else {}
    return {
        ticket.pk: _ranked(ticket, [rows[pk] for pk in ids_of[ticket.pk] if pk in rows], limit) for ticket in tickets
    }


def _ranked(ticket: Ticket, rows: Sequence[Ticket], limit: int) -> list[Found]:
    by_pk = {row.pk: row for row in rows}
    candidates = [
        similarity.Candidate(row.pk, similarity.ticket_text(row.subject, row.body), row.category) for row in rows
    ]
    query = similarity.ticket_text(ticket.subject, ticket.body)
    ranked = similarity.rerank(query, candidates, category=ticket.category)[:limit]
    mine = customer_key(ticket)
    return [Found(by_pk[pk], score, bool(mine) and customer_key(by_pk[pk]) == mine) for pk, score in ranked]


def find_similar(ticket: Ticket, limit: int | None = None) -> list[Found]:
    """The tickets most similar to `ticket`, best first: the text search's candidates (and the same customer's
    recent tickets), re-ranked by `similarity.rerank`."""
    return find_similar_many([ticket], limit)[ticket.pk]


def store_similar_many(found_by: Mapping[int, Sequence[Found]]) -> None:
    """Replace these tickets' stored similar tickets (a redelivered message writes the same rows again): one
    DELETE and one INSERT for a chunk."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        SimilarTicket.objects.filter(ticket__in=list(found_by)).delete()
        SimilarTicket.objects.bulk_create(
            [
                SimilarTicket(ticket_id=pk, similar=f.ticket, score=f.score, created=now)
                for pk, found in found_by.items()
                for f in found
            ],
            ignore_conflicts=True,
        )


def likely_duplicate(ticket: Ticket, found: Sequence[Found]) -> Ticket | None:
    """The earlier ticket this one likely repeats: the same customer's within DUPLICATE_WINDOW_HOURS and at
    least DUPLICATE_SAME_CUSTOMER_SIMILARITY similar, or anyone's at least DUPLICATE_SIMILARITY similar."""
    window = timedelta(hours=settings.DUPLICATE_WINDOW_HOURS)
    for f in found:  # best first
        earlier = (f.ticket.created, f.ticket.pk) < (ticket.created, ticket.pk)
        if not earlier:
            continue
        recent_same = f.same_customer and ticket.created - f.ticket.created <= window
        if (recent_same and f.score >= settings.DUPLICATE_SAME_CUSTOMER_SIMILARITY) or (
            f.score >= settings.DUPLICATE_SIMILARITY
        ):
            return f.ticket
    return None


def _flag_duplicates(tickets: Sequence[Ticket], found_by: Mapping[int, Sequence[Found]]) -> dict[int, int | None]:
    """Each ticket's likely duplicate set, in one UPDATE for those whose flag changes."""
    flags: dict[int, int | None] = {}
    for ticket in tickets:
        duplicate = likely_duplicate(ticket, found_by[ticket.pk])
        flags[ticket.pk] = duplicate.pk if duplicate else None
    before = {t.pk: t.likely_duplicate_of_id for t in tickets}
    changed = {pk: dup for pk, dup in flags.items() if dup != before[pk]}
    if changed:
        value = Case(
            *(When(pk=pk, then=Value(dup, output_field=BigIntegerField())) for pk, dup in changed.items()),
            output_field=BigIntegerField(),
        )
        Ticket.objects.filter(pk__in=list(changed)).update(likely_duplicate_of=value)
    return flags


def _commit_asynchronously() -> None:
    # Similar links and flags can always be worked out again: on PostgreSQL their transaction does not wait for
    # its WAL to reach the disk (a crash loses at most the last few hundred milliseconds' worth, redone by the
    # next classification). Classification's own writes keep synchronous commit.
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def classification_backlog() -> bool:
    """Whether more than SIMILARITY_YIELD_BACKLOG tickets are queued or being classified: while so, the
    similarity queue waits (incidents.gate). One bounded count on the (status, status_changed) index."""
    threshold = settings.SIMILARITY_YIELD_BACKLOG
    if threshold <= 0:
        return False
    waiting = Ticket.objects.filter(status__in=[Status.QUEUED, Status.PROCESSING]).values("pk")[: threshold + 1]
    return waiting.count() > threshold


def process_classified(ticket_ids: Sequence[int]) -> None:
    """After classification, for a chunk of tickets: their similar tickets found (one text search for the
    chunk) and stored, their likely duplicates flagged (one transaction for both), and each ticket joined to
    an open incident it matches or opening one with a burst of similar tickets. Safe to run twice."""
    tickets = list(
        Ticket.objects.filter(pk__in=list(ticket_ids), status=Status.CLASSIFIED)
        .only(*_FIELDS, "likely_duplicate_of")
        .order_by("pk")
    )
    if not tickets:
        return
    found_by = find_similar_many(tickets)
    with transaction.atomic():
        _commit_asynchronously()
        store_similar_many(found_by)
        flags = _flag_duplicates(tickets, found_by)
    joined = detect_incidents(tickets, found_by)
    logger.info(
        "similarity for %d tickets: %d links, %d likely duplicates, %d in incidents",
        len(tickets),
        sum(len(found) for found in found_by.values()),
        sum(1 for dup in flags.values() if dup),
        len(joined),
    )


# Incidents.


def _open_incident_of(ticket_ids: Sequence[int]) -> Incident | None:
    return (
        Incident.objects.filter(status=IncidentStatus.OPEN, memberships__ticket__in=list(ticket_ids))
        .order_by("-last_seen", "-pk")
        .first()
    )


def _burst_of(ticket: Ticket, found: Sequence[Found], taken: set[int] | dict[int, str]) -> list[Ticket]:
    """The largest group of the ticket and its similar tickets not in an incident yet (`taken`) that arrived
    within INCIDENT_WINDOW_MINUTES of each other, the ticket among them."""
    window = timedelta(minutes=settings.INCIDENT_WINDOW_MINUTES)
    near = [
        f.ticket
        for f in found
        if f.score >= settings.INCIDENT_SIMILARITY
        and abs(f.ticket.created - ticket.created) <= window
        and f.ticket.pk not in taken
    ]
    near = [ticket, *near]
    starts = {t.created for t in near if t.created <= ticket.created}
    groups = ([t for t in near if start <= t.created <= start + window] for start in starts)
    return max(groups, key=len)


def _burst(ticket: Ticket, found: Sequence[Found]) -> list[Ticket]:
    near = [f.ticket.pk for f in found if f.score >= settings.INCIDENT_SIMILARITY]
    taken = set(IncidentTicket.objects.filter(ticket__in=near).values_list("ticket_id", flat=True))
    return _burst_of(ticket, found, taken)


def _opens(burst: Sequence[Ticket]) -> bool:
    customers = {customer_key(t) for t in burst} - {""}
    return len(burst) >= settings.INCIDENT_MIN_TICKETS and len(customers) >= settings.INCIDENT_MIN_CUSTOMERS


def _memberships(ticket_ids: set[int]) -> dict[int, str]:
    """Ticket id -> the status of the incident it is in, for those of these tickets in one."""
    rows = IncidentTicket.objects.filter(ticket__in=list(ticket_ids)).values_list("ticket_id", "incident__status")
    return dict(rows)


def detect_incidents(tickets: Sequence[Ticket], found_by: Mapping[int, Sequence[Found]]) -> list[int]:
    """`detect_incident` for a chunk, taken only for the tickets that may join or open one: the memberships of
    every ticket concerned are read in one query first, and a ticket not in an incident, with no similar
    ticket in an open one and too small a burst to open one, takes no lock (most tickets, most of the time).
    Those that may are decided under `detect_incident`'s row locks, which check everything again. Returns the
    ids of the tickets in an incident."""
    close_by = {t.pk: [f for f in found_by[t.pk] if f.score >= settings.INCIDENT_SIMILARITY] for t in tickets}
    concerned = {t.pk for t in tickets} | {f.ticket.pk for close in close_by.values() for f in close}
    members = _memberships(concerned)
    joined: list[int] = []
    for ticket in tickets:
        if ticket.pk in members:
            joined.append(ticket.pk)
            continue
        close = close_by[ticket.pk]
        may_join = any(members.get(f.ticket.pk) == IncidentStatus.OPEN for f in close)
        if not may_join and not _opens(_burst_of(ticket, close, members)):
            continue
        if detect_incident(ticket, found_by[ticket.pk]) is not None:
            joined.append(ticket.pk)
            members = _memberships(concerned)  # what it opened or joined, for the chunk's next tickets
    return joined


def detect_incident(ticket: Ticket, found: Sequence[Found]) -> Incident | None:
    """The open incident `ticket` joins (one holding a ticket similar enough to it), or the one it opens with
    a burst: at least INCIDENT_MIN_TICKETS similar tickets from INCIDENT_MIN_CUSTOMERS customers within
    INCIDENT_WINDOW_MINUTES. Under row locks on the tickets concerned, checked again once held."""
    close = [f.ticket.pk for f in found if f.score >= settings.INCIDENT_SIMILARITY]
    with transaction.atomic():
        list(Ticket.objects.select_for_update().filter(pk__in=[ticket.pk, *close]).order_by("pk").values("pk"))
        member = IncidentTicket.objects.filter(ticket=ticket).select_related("incident").first()
        if member is not None:
            return member.incident
        incident = _open_incident_of(close)
        if incident is not None:
            return join(incident, [ticket])
        burst = _burst(ticket, found)
        if not _opens(burst):
            return None
        customers = {customer_key(t) for t in burst} - {""}
        first = min(burst, key=lambda t: (t.created, t.pk))
        now = timezone.now()
        incident = Incident.objects.create(
            title=(first.subject or first.body)[:200] or f"Ticket #{first.pk}",
            first_seen=first.created,
            last_seen=max(t.created for t in burst),
            created=now,
        )
        logger.warning("incident %s opened: %d tickets from %d customers", incident.pk, len(burst), len(customers))
        transaction.on_commit(forget_open_incidents)
        return join(incident, burst)


def join(incident: Incident, tickets: Sequence[Ticket]) -> Incident:
    """Tickets join the incident (those already in one stay where they are); its figures are worked out again,
    and its tickets get the priority floor and the incident in their suggested reply."""
    IncidentTicket.objects.bulk_create(
        [IncidentTicket(incident=incident, ticket=t, customer=customer_key(t)) for t in tickets],
        ignore_conflicts=True,
    )
    refresh(incident)
    members = list(incident.memberships.filter(ticket__in=[t.pk for t in tickets]).values_list("ticket_id", flat=True))
    _apply_priority_floor(members)
    _mention_in_replies(incident, members)
    return incident


def refresh(incident: Incident) -> None:
    """Counts, first and last seen (aggregates), shared terms and entities (from its newest INCIDENT_SAMPLE
    tickets): the same cost whether the incident holds ten tickets or ten thousand."""
    members = IncidentTicket.objects.filter(incident=incident)
    figures = Ticket.objects.filter(incident_link__incident=incident).aggregate(
        n=Count("pk"), first=Min("created"), last=Max("created")
    )
    incident.ticket_count = figures["n"]
    incident.customer_count = members.exclude(customer="").values("customer").distinct().count()
    incident.first_seen, incident.last_seen = figures["first"], figures["last"]
    sample = list(
        Ticket.objects.filter(incident_link__incident=incident)
        .order_by("-created", "-pk")
        .values_list("pk", "subject", "body")[:INCIDENT_SAMPLE]
    )
    incident.shared_terms = shared_terms([(subject, body) for _, subject, body in sample])
    incident.entities = shared_entities([pk for pk, _, _ in sample])
    incident.save(
        update_fields=[
            "ticket_count",
            "customer_count",
            "first_seen",
            "last_seen",
            "shared_terms",
            "entities",
            "updated",
        ]
    )


def shared_terms(texts: Sequence[tuple[str, str]], top: int = 10) -> list[str]:
    """The words at least half of the (subject, body) texts use, most widely shared first, a word in the
    subjects before one only in the bodies (ties: alphabetical)."""
    anywhere = Counter(word for subject, body in texts for word in set(search.terms(f"{subject} {body}")))
    in_subject = Counter(word for subject, _ in texts for word in set(search.terms(subject)))
    needed = max(2, (len(texts) + 1) // 2)
    shared = [word for word, n in anywhere.items() if n >= needed]
    return sorted(shared, key=lambda word: (-anywhere[word] - in_subject[word], word))[:top]


def shared_entities(ticket_ids: Sequence[int]) -> dict[str, list[str]]:
    """The entities (error codes, URLs, order ids ...) the latest automatic classifications of these tickets
    name, each kind with its values, most often named first."""
    rows = (
        Classification.objects.filter(ticket__in=list(ticket_ids))
        .exclude(source=Source.HUMAN)
        .order_by("ticket_id", "-created", "-id")
        .values_list("ticket_id", "entities")
    )
    seen: set[int] = set()
    counts: dict[str, Counter[str]] = {}
    for ticket_id, entities in rows:
        if ticket_id in seen:
            continue
        seen.add(ticket_id)
        for kind, values in (entities or {}).items():
            counts.setdefault(kind, Counter()).update({str(v) for v in values or []})
    return {kind: [v for v, _ in c.most_common(10)] for kind, c in sorted(counts.items()) if c}


def _apply_priority_floor(ticket_ids: Sequence[int]) -> None:
    floor = settings.INCIDENT_PRIORITY_FLOOR
    if not floor or not ticket_ids:
        return
    below = _URGENCY[_URGENCY.index(Priority(floor)) + 1 :]
    due = ExpressionWrapper(F("created") + Value(SLA[Priority(floor)]), output_field=DateTimeField())
    # A person's classification is theirs: the floor lifts automatic ones only.
    Ticket.objects.filter(pk__in=list(ticket_ids), priority__in=below).exclude(
        classification_source=Source.HUMAN
    ).update(priority=floor, due_at=due, updated=timezone.now())


def incident_note(incident: Incident) -> str:
    return (
        f"We are aware of an issue affecting several customers (incident #{incident.pk}) and are working on it; "
        "we will update you as soon as it is resolved."
    )


def _mention_in_replies(incident: Incident, ticket_ids: Sequence[int]) -> None:
    """The incident in each ticket's latest automatic suggested reply, once."""
    note = incident_note(incident)
    marker = f"incident #{incident.pk}"
    latest: dict[int, Classification] = {}
    rows = Classification.objects.filter(ticket__in=list(ticket_ids)).exclude(source=Source.HUMAN)
    for row in rows.order_by("ticket_id", "-created", "-id").only("ticket_id", "suggested_reply"):
        latest.setdefault(row.ticket_id, row)
    for row in latest.values():
        if row.suggested_reply and marker not in row.suggested_reply:
            # Its own paragraph before the sign-off, as the reply's other additions are.
            reply = with_tone(row.suggested_reply, "friendly", note)
            Classification.objects.filter(pk=row.pk).update(suggested_reply=reply)


# Agents' actions.


class DuplicateRefused(ValueError):
    """A duplicate link that cannot be: the ticket itself, or one that would go round in a circle."""


# Where an agent acted from, for the audit log.
Via = Literal["dashboard", "api", "admin"]


def confirm_duplicate(
    ticket: Ticket, original: Ticket, *, actor: Any = None, via: Via, request: HttpRequest | None = None
) -> Ticket:
    """An agent confirms `ticket` duplicates `original`: linked (to the original's own original when that one
    is a duplicate too), both kept, nothing merged, and the audit log says who, from where. Returns the ticket
    linked to."""
    asked = original
    if original.duplicate_of_id is not None:
        original = Ticket.objects.get(pk=original.duplicate_of_id)
    if original.pk == ticket.pk:
        raise DuplicateRefused("a ticket cannot duplicate itself")
    with transaction.atomic():
        was = Ticket.objects.filter(pk=ticket.pk).values_list("duplicate_of_id", flat=True).first()
        Ticket.objects.filter(pk=ticket.pk).update(duplicate_of=original, updated=timezone.now())
        # Tickets that duplicated this one now point at its original: one level, never a circle.
        repointed = list(Ticket.objects.filter(duplicate_of=ticket).values_list("pk", flat=True))
        Ticket.objects.filter(pk__in=repointed).update(duplicate_of=original)
        detail: dict[str, Any] = {"duplicate_of": original.pk, "was": was, "via": via}
        if asked.pk != original.pk:
            detail["asked"] = asked.pk
        if repointed:
            detail["repointed"] = repointed[: audit.MAX_IDS]
        audit.record(
            Action.DUPLICATE_CONFIRMED, actor=actor, target=f"ticket:{ticket.pk}", detail=detail, request=request
        )
    ticket.duplicate_of = original
    logger.info("ticket %s confirmed a duplicate of %s", ticket.pk, original.pk)
    return original


def clear_duplicate(ticket: Ticket, *, actor: Any = None, via: Via, request: HttpRequest | None = None) -> None:
    """The ticket is not a duplicate after all (audited when it was one)."""
    with transaction.atomic():
        was = Ticket.objects.filter(pk=ticket.pk).values_list("duplicate_of_id", flat=True).first()
        Ticket.objects.filter(pk=ticket.pk).update(duplicate_of=None, updated=timezone.now())
        if was is not None:
            detail = {"was": was, "via": via}
            audit.record(
                Action.DUPLICATE_CLEARED, actor=actor, target=f"ticket:{ticket.pk}", detail=detail, request=request
            )
    ticket.duplicate_of = None


def set_incident_status(
    incident: Incident, status: str, actor: Any = None, *, via: Via, request: HttpRequest | None = None
) -> Incident:
    """Close (by an agent: the outage is over) or reopen an incident. Closed, it takes no new tickets. A change
    is audited with who made it and from where; asking for the status it already has changes nothing."""
    with transaction.atomic():
        was = Incident.objects.select_for_update().filter(pk=incident.pk).values_list("status", flat=True).first()
        if was != status:
            Incident.objects.filter(pk=incident.pk).move_to(status, by=actor, now=timezone.now())
            action = Action.INCIDENT_CLOSED if status == IncidentStatus.CLOSED else Action.INCIDENT_REOPENED
            detail = {"was": was, "status": status, "via": via, "tickets": incident.ticket_count}
            audit.record(action, actor=actor, target=f"incident:{incident.pk}", detail=detail, request=request)
    incident.refresh_from_db()
    forget_open_incidents()
    return incident


def similar_tickets(ticket: Ticket, limit: int = 10) -> list[Found]:
    """What the detail page and the API show: the stored similar tickets, with the later tickets that found
    this one, best first; worked out on demand when the worker has stored none yet."""
    mine = customer_key(ticket)
    links = SimilarTicket.objects.filter(ticket=ticket).select_related("similar").order_by("-score")[:limit]
    back = SimilarTicket.objects.filter(similar=ticket).select_related("ticket").order_by("-score")[:limit]
    best: dict[int, Found] = {}
    for other, score in [
        *((link.similar, link.score) for link in links),
        *((link.ticket, link.score) for link in back),
    ]:
        if other.pk not in best or best[other.pk].score < score:
            best[other.pk] = Found(other, score, bool(mine) and customer_key(other) == mine)
    if not best:
        return find_similar(ticket, limit)
    return sorted(best.values(), key=lambda f: (-f.score, -f.ticket.pk))[:limit]


def growth(incident: Incident, buckets: int = 6) -> list[dict[str, Any]]:
    """Tickets per interval from the first seen to now (or the close): how fast the incident grows."""
    end = incident.closed_at or timezone.now()
    span = max((end - incident.first_seen) / buckets, timedelta(minutes=1))
    # A young incident has fewer one-minute intervals than `buckets`: none is shown for time still to come.
    buckets = max(1, min(buckets, math.ceil((end - incident.first_seen) / span)))
    joined = list(Ticket.objects.filter(incident_link__incident=incident).values_list("created", flat=True))
    counts = [0] * buckets
    for created in joined:
        index = min(max(int((created - incident.first_seen) / span), 0), buckets - 1)
        counts[index] += 1
    return [{"start": incident.first_seen + span * i, "tickets": n} for i, n in enumerate(counts)]
