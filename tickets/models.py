from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

SUBJECT_MAX_LENGTH = 500
BODY_MAX_LENGTH = 20_000


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    WEB = "web", "Web"
    API = "api", "API"


class Status(models.TextChoices):
    QUEUED = "queued"
    PROCESSING = "processing"
    CLASSIFIED = "classified"
    FAILED = "failed"


class Priority(models.TextChoices):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Source(models.TextChoices):
    LLM = "llm", "LLM"
    # The second model (LLM_FALLBACK_MODEL), when the first could not answer. The column holds 10 characters.
    LLM_FALLBACK = "llm_backup", "Fallback LLM"
    LEARNED = "learned", "Learned model"
    KEYWORD = "keyword", "Keyword rules"
    HUMAN = "human", "Human"


class WorkState(models.TextChoices):
    """Where the agents are with a ticket, beside the pipeline's `status`: open (to do), pending (waiting
    on the customer or someone else), resolved (done; a resolved ticket can be reopened)."""

    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"


class ResolvedBy(models.TextChoices):
    """Who resolved a ticket: a specialist's draft accepted as written, or a person (a draft they edited, or
    the state control)."""

    SPECIALIST = "specialist", "Specialist"
    HUMAN = "human", "Human"


# The default views show these: resolved tickets leave them.
ACTIVE_STATES = (WorkState.OPEN, WorkState.PENDING)
# The working states a ticket may move to from each state. A resolved ticket is reopened (back to open).
STATE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    WorkState.OPEN: (WorkState.PENDING, WorkState.RESOLVED),
    WorkState.PENDING: (WorkState.OPEN, WorkState.RESOLVED),
    WorkState.RESOLVED: (WorkState.OPEN,),
}


# Priority → SLA: the time within which a first answer is due.
SLA = {
    Priority.CRITICAL: timedelta(hours=1),
    Priority.HIGH: timedelta(hours=4),
    Priority.MEDIUM: timedelta(hours=24),
    Priority.LOW: timedelta(hours=72),
}


# What a client sends for a ticket (API, dashboard form, bulk import).
INPUT_FIELDS = (
    "subject",
    "body",
    "channel",
    "customer_email",
    "customer_name",
    "customer_id",
    "declared_priority",
    "external_id",
    "options",
)
# The pipeline's state and the current classification, written only by our own code.
CURRENT_FIELDS = (
    "status",
    "category",
    "priority",
    "sentiment",
    "risk",
    "team",
    "confidence",
    "classification_source",
    "fallback_reason",
    "summary",
    "missing_info",
    "classified_at",
    "due_at",
    "attempts",
    "last_error",
)


class TicketQuerySet(models.QuerySet["Ticket"]):
    """The pipeline's state machine: the only code that writes a ticket's `status`.

        queued --claim--> processing --complete--> classified
          ^                 |   '------fail----> failed
          '----release------'
        classified | failed | stuck --requeue--> queued        any --correct--> classified

    Each transition is one conditional UPDATE over the rows still in the state it starts from, and
    returns how many rows it changed: of two workers racing for a ticket, exactly one wins (STYLE §4).
    A claim is identified by its `status_changed` time, so a late writer whose claim was taken over
    changes nothing."""

    def claim(self, *, token: str, stale_before: datetime, now: datetime | None = None) -> int:
        """Queued tickets, and claims older than `stale_before` (their worker died), become `processing`.
        `token` (the task message's id) also lets a retry of the same message take its own claim back.
        Every row claimed by one call has the same claim time (`now`), which `claimed_at` finds again."""
        claimable = Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, status_changed__lt=stale_before)
        if token:
            claimable |= Q(status=Status.PROCESSING, claimed_by=token)
        return self.filter(claimable).update(
            status=Status.PROCESSING,
            status_changed=now or timezone.now(),
            claimed_by=token,
            attempts=F("attempts") + 1,
        )

    def claimed_at(self, claimed_at: datetime) -> TicketQuerySet:
        """The tickets whose claim, taken at `claimed_at`, is still held (not completed, released or taken over)."""
        return self.filter(status=Status.PROCESSING, status_changed=claimed_at)

    def release(self, *, claimed_at: datetime) -> int:
        """Give a claim back unfinished: the ticket is queued again."""
        return self.claimed_at(claimed_at).update(status=Status.QUEUED, status_changed=timezone.now())

    def complete(self, *, claimed_at: datetime, now: datetime, current: Mapping[int, Mapping[str, Any]]) -> int:
        """Store automatic classifications' current fields (`current`: ticket id to its fields, the same
        names for every ticket) on those of the tickets whose claim is still ours. Returns how many changed.
        The first one also stamps `first_classified_at` (the overview's time to classify).

        One UPDATE per ticket, sent together (psycopg pipelines `executemany`: one round trip for a chunk).
        Not the ORM's bulk_update: its CASE WHEN per field and ticket cost most of a worker's time (72% of
        a 100-ticket chunk, profiled), and a single UPDATE FROM VALUES needs casts that differ by database."""
        if current and self.query.has_filters():
            mine = set(self.values_list("pk", flat=True))
            current = {pk: fields for pk, fields in current.items() if pk in mine}
        if not current:
            return 0
        db = connections[self.db]
        quote = db.ops.quote_name
        classified = _classified(now)
        columns = [_field(self.model, name) for name in [*classified, *next(iter(current.values()))]]
        assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in columns)
        first = quote("first_classified_at")
        assignments += f", {first} = COALESCE({first}, %s)"
        sql = (
            f"UPDATE {quote(self.model._meta.db_table)} SET {assignments} "
            f"WHERE {quote('id')} = %s AND {quote('status')} = %s AND {quote('status_changed')} = %s"
        )
        stamp = _field(self.model, "first_classified_at").get_db_prep_save(now, db)
        claim = [Status.PROCESSING, _field(self.model, "status_changed").get_db_prep_save(claimed_at, db)]
        rows = [
            [
                *(field.get_db_prep_save({**classified, **fields}[field.name], db) for field in columns),
                stamp,
                pk,
                *claim,
            ]
            for pk, fields in current.items()
        ]
        with db.cursor() as cursor:
            cursor.executemany(sql, rows)
            return cursor.rowcount

    def keep_classified(self, *, claimed_at: datetime) -> int:
        """End a claim with the classification the ticket already has (a human correction wins)."""
        return self.claimed_at(claimed_at).update(status=Status.CLASSIFIED, status_changed=timezone.now())

    def correct(self, *, now: datetime, **current: Any) -> int:
        """A person's classification becomes current, whatever state the ticket was in."""
        return self.update(**_classified(now), **current)

    def fail(self, error: str) -> int:
        """The task gave up: failed, with its error, unless a classification was stored meanwhile."""
        return self.exclude(status=Status.CLASSIFIED).update(
            status=Status.FAILED, status_changed=timezone.now(), last_error=error[:2000]
        )

    def requeue(self, *, from_statuses: Sequence[str], clear_error: bool = False) -> int:
        """Back to the queue (reclassify, retry, recovery, the sweep): only rows in `from_statuses`."""
        extra = {"last_error": ""} if clear_error else {}
        return self.filter(status__in=from_statuses).update(
            status=Status.QUEUED, status_changed=timezone.now(), unpublished=False, **extra
        )

    def stuck(self, *, queued_before: datetime, stale_before: datetime) -> TicketQuerySet:
        """Tickets whose publish failed, queued too long (their message was probably lost), or claimed by
        a worker that died."""
        return self.filter(
            Q(status=Status.QUEUED, unpublished=True)
            | Q(status=Status.QUEUED, status_changed__lt=queued_before)
            | Q(status=Status.PROCESSING, status_changed__lt=stale_before)
        )

    def move_to_state(self, state: str, *, by: Any, now: datetime, resolved_by: str = ResolvedBy.HUMAN) -> int:
        """The working state (open, pending, resolved): only tickets for which STATE_TRANSITIONS allows the
        move change, so a ticket resolved by one agent while another marks it pending ends in one state.
        A resolved ticket records who resolved it (`resolved_by`); any other state clears it."""
        allowed_from = [source for source, targets in STATE_TRANSITIONS.items() if state in targets]
        return self.filter(state__in=allowed_from).update(
            state=state,
            state_changed=now,
            state_changed_by=by,
            updated=now,
            resolved_by=resolved_by if state == WorkState.RESOLVED else "",
        )

    def assign(self, assignee: Any, *, now: datetime) -> int:
        """Give tickets to an agent (None: unassigned); tickets already theirs are left alone."""
        if assignee is None:
            return self.filter(assignee__isnull=False).update(assignee=None, updated=now)
        return self.exclude(assignee=assignee).update(assignee=assignee, updated=now)

    def active(self) -> TicketQuerySet:
        """Open or pending: what the default views show."""
        return self.filter(state__in=ACTIVE_STATES)

    def flag_unpublished(self) -> int:
        """Their classification message could not be handed to the broker: the next sweep publishes
        them again, without waiting for QUEUED_STALE_SECONDS."""
        return self.filter(status=Status.QUEUED).update(unpublished=True)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _classified(now: datetime) -> dict[str, Any]:
    # QuerySet.update() skips auto_now: a classification or correction is a change of the ticket.
    return {"status": Status.CLASSIFIED, "status_changed": now, "classified_at": now, "updated": now, "last_error": ""}


class Ticket(models.Model):
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH, blank=True)
    body = models.TextField(max_length=BODY_MAX_LENGTH, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.API)
    customer_email = models.EmailField(blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_id = models.CharField(max_length=100, blank=True)
    declared_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # The caller's enrichment options for this ticket: {"tone": ..., "reply": bool, "extract": bool}
    # (see classification.options); empty means the deployment's and the category's defaults.
    options = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    status_changed = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The task message that claimed the ticket (its retry may take the claim back at once).
    claimed_by = models.CharField(max_length=64, blank=True)
    # Queued, but its message never reached the broker (down or frozen at publish time).
    unpublished = models.BooleanField(default=False)

    # The current classification, copied from the latest winning Classification row so that
    # lists, filters and stats never join the history table.
    category = models.CharField(max_length=50, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    risk = models.FloatField(null=True, blank=True)
    team = models.CharField(max_length=50, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    classification_source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    fallback_reason = models.CharField(max_length=20, blank=True)
    summary = models.TextField(blank=True)
    # What the category requires (its `required_info`) and the ticket does not give: "waiting for information".
    missing_info = models.JSONField(default=list, blank=True)
    classified_at = models.DateTimeField(null=True, blank=True)
    # When the first automatic classification was stored (the overview's time to classify).
    first_classified_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)

    # The agents' side: the working state, who holds the ticket, and who last changed its state.
    state = models.CharField(max_length=10, choices=WorkState.choices, default=WorkState.OPEN)
    state_changed = models.DateTimeField(null=True, blank=True)
    # Who resolved it (resolutions: a specialist's draft accepted as written, or a person); blank unless resolved.
    resolved_by = models.CharField(max_length=10, choices=ResolvedBy.choices, blank=True)
    # No single-column index for either: `ticket_assignee_created_idx` serves the assignee (its first column),
    # and who last changed a state is only shown, never searched.
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        db_index=False,
    )

    # Duplicates (issue 16): an earlier ticket this one likely repeats (found by the worker, a hint only),
    # and the one an agent confirmed it duplicates. Both tickets are kept; confirmed duplicates leave the
    # overview's volume figures. Never merged automatically.
    likely_duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates", db_index=False
    )

    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # Re-sending the same ticket from the same channel creates nothing new.
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="ticket_unique_external_id_per_channel",
            ),
        ]
        indexes = [
            # The default list and its cursor pagination: ORDER BY created DESC, id DESC.
            models.Index(fields=["-created", "-id"], name="ticket_created_idx"),
            # List filters, each followed by the list order so a filtered page is an index range scan.
            # Covering for the 7-day charts too: WHERE status = 'classified' AND created >= t
            # GROUP BY category, priority, sentiment reads the index alone, no table rows.
            models.Index(
                fields=["status", "-created", "category", "priority", "sentiment"], name="ticket_status_created_cov_idx"
            ),
            models.Index(fields=["category", "-created"], name="ticket_category_created_idx"),
            models.Index(fields=["priority", "-created"], name="ticket_priority_created_idx"),
            models.Index(fields=["sentiment", "-created"], name="ticket_sentiment_created_idx"),
            models.Index(fields=["team", "-created"], name="ticket_team_created_idx"),
            models.Index(fields=["classification_source", "-created"], name="ticket_source_created_idx"),
            # "min risk" filter and the high-risk open tickets stat.
            models.Index(fields=["-risk"], name="ticket_risk_idx"),
            # LLM recovery: keyword answers given during an outage, oldest first.
            models.Index(
                fields=["fallback_reason", "classification_source", "classified_at"], name="ticket_fallback_idx"
            ),
            # The sweep for tickets left queued or processing: WHERE status IN (...) AND status_changed < t.
            models.Index(fields=["status", "status_changed"], name="ticket_status_changed_idx"),
            # A customer's tickets (customers.context: the context at classification, the customer page, the
            # list's customer filter): by customer id, or by email in lower case for tickets without one.
            models.Index(F("customer_id"), F("created"), condition=~Q(customer_id=""), name="ticket_customer_id_idx"),
            models.Index(
                Lower("customer_email"), F("created"), condition=Q(customer_id=""), name="ticket_customer_email_idx"
            ),
            # The sweep's other half: tickets whose publish failed (a handful, only during broker outages).
            models.Index(fields=["status"], condition=Q(unpublished=True), name="ticket_unpublished_idx"),
            # The dashboard's default list (open and pending tickets, newest first) once most are resolved.
            models.Index(fields=["-created", "-id"], condition=Q(state__in=ACTIVE_STATES), name="ticket_active_idx"),
            # SLA: overdue and due-soon open tickets, and the list sorted by due time.
            models.Index(fields=["due_at"], condition=Q(state__in=ACTIVE_STATES), name="ticket_active_due_idx"),
            # "My tickets" and the assignee filter, newest first.
            models.Index(fields=["assignee", "-created"], name="ticket_assignee_created_idx"),
            # The working-state filter (resolved tickets, pending ones), newest first.
            models.Index(fields=["state", "-created"], name="ticket_state_created_idx"),
            # The overview's period and `GET /api/v1/stats/` (WHERE created in the period): every column they
            # read, so PostgreSQL answers from the index alone. Built on PostgreSQL only (migrations 0010,
            # 0011): SQLite cannot include columns and has ticket_created_idx for the range.
            models.Index(
                fields=["created"],
                include=[
                    "status",
                    "state",
                    "classification_source",
                    "category",
                    "priority",
                    "sentiment",
                    "confidence",
                    "risk",
                    "first_classified_at",
                    "team",
                    "channel",
                ],
                name="ticket_period_cov_idx",
            ),
            # Confirmed duplicates (a handful): the overview's volume leaves the period's out, a ticket's
            # duplicates are listed, and deleting a ticket finds the links to clear.
            models.Index(
                fields=["duplicate_of", "created"], condition=Q(duplicate_of__isnull=False), name="ticket_duplicate_idx"
            ),
            # Deleting a ticket clears the likely-duplicate hints naming it.
            models.Index(
                fields=["likely_duplicate_of"],
                condition=Q(likely_duplicate_of__isnull=False),
                name="ticket_likely_duplicate_idx",
            ),
            # Likely duplicates: the same customer's recent tickets (the worker, after classification).
            models.Index(
                fields=["customer_email", "-created"], condition=~Q(customer_email=""), name="ticket_customer_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:60]}"

    @property
    def is_human_corrected(self) -> bool:
        return self.classification_source == Source.HUMAN

    def sla_due(self, priority: str) -> datetime:
        return self.created + SLA[Priority(priority)]

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_overdue(self) -> bool:
        return self.is_active and self.due_at is not None and self.due_at < timezone.now()


class TicketChange(models.Model):
    """One change an agent made to a ticket's working side (its state or its assignee), as rows the way
    helpdesk pairs a follow-up with its changes: field, old value, new value, who and when."""

    class Field(models.TextChoices):
        STATE = "state", "State"
        ASSIGNEE = "assignee", "Assignee"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=150, blank=True)
    new_value = models.CharField(max_length=150, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # A ticket's activity on its detail page, newest first.
            models.Index(fields=["ticket", "-created"], name="ticketchange_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}: {self.field} {self.old_value or '-'} -> {self.new_value or '-'}"


class AgentProfile(models.Model):
    """What the dashboard knows of an agent beyond the login: the team whose unassigned tickets are theirs
    to pick up."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    team = models.CharField(max_length=50, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.team or 'no team'})"


class SavedView(models.Model):
    """A named set of list filters, kept per user; a shared one is offered to every agent."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    # The list's query string (filters and sort, validated when saved), e.g. "state=open&priority=high".
    query = models.CharField(max_length=1000, blank=True)
    shared = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedview_unique_name_per_owner")]

    def __str__(self) -> str:
        return self.name
