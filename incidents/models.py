from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from tickets.models import Ticket


class SimilarTicket(models.Model):
    """One of a ticket's most similar tickets, found by the worker after classification: the top
    SIMILAR_TICKETS_STORED per ticket, replaced whenever the ticket is classified again."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="similar_links", db_index=False)
    similar = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", db_index=False)
    score = models.FloatField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "similar"], name="similar_ticket_unique")]
        indexes = [
            # The detail page and the API: a ticket's similar tickets, best first.
            models.Index(fields=["ticket", "-score"], name="similar_ticket_score_idx"),
            # ... and the later tickets that found it (links are stored one way).
            models.Index(fields=["similar", "-score"], name="similar_reverse_score_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} ~ #{self.similar_id} ({self.score:.2f})"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class IncidentQuerySet(models.QuerySet["Incident"]):
    """An incident's own state machine (open <-> closed), apart from the ticket's."""

    def move_to(self, status: str, *, by: Any, now: datetime) -> int:
        closing = status == IncidentStatus.CLOSED
        return self.update(
            status=status, closed_at=now if closing else None, closed_by=by if closing else None, updated=now
        )


class Incident(models.Model):
    """Similar tickets from several customers in a short window: an outage or a shared problem."""

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    ticket_count = models.PositiveIntegerField(default=0)
    customer_count = models.PositiveIntegerField(default=0)
    # The words most of its tickets share, and the entities they name (error codes, URLs, order ids ...).
    shared_terms = models.JSONField(default=list, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        indexes = [
            # The banner (is one open?) and the incidents page: open ones first, latest activity first.
            models.Index(fields=["status", "-last_seen"], name="incident_status_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"Incident #{self.pk}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN


class IncidentTicket(models.Model):
    """A ticket's membership of an incident: a ticket belongs to one incident at most."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="memberships")
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="incident_link")
    # Who wrote it (customer id, else email): the incident counts distinct customers.
    customer = models.CharField(max_length=254, blank=True)
    joined = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # An incident's tickets, in arrival order (its page, its growth).
            models.Index(fields=["incident", "joined"], name="incident_ticket_joined_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} in incident #{self.incident_id}"
