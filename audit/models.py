from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TICKET_CORRECTED = "ticket.corrected"
    TICKET_RECLASSIFIED = "ticket.reclassified"
    TICKET_RETRIED = "ticket.retried"
    TICKET_STATE_CHANGED = "ticket.state_changed"
    TICKET_ASSIGNED = "ticket.assigned"
    RESOLUTION_ACCEPTED = "resolution.accepted"
    RESOLUTION_REJECTED = "resolution.rejected"
    TICKETS_EXPORTED = "tickets.exported"
    CATEGORY_CREATED = "category.created"
    CATEGORY_CHANGED = "category.changed"
    CATEGORY_DELETED = "category.deleted"
    TOKEN_CREATED = "token.created"
    TOKEN_DELETED = "token.deleted"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_CHANGED = "webhook.changed"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_REDELIVERED = "webhook.redelivered"
    CUSTOMER_CHANGED = "customer.changed"
    CUSTOMERS_IMPORTED = "customers.imported"
    # Similar tickets, duplicates and incidents (issue 16): an agent's confirmations and status changes.
    DUPLICATE_CONFIRMED = "ticket.duplicate_confirmed"
    DUPLICATE_CLEARED = "ticket.duplicate_cleared"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_REOPENED = "incident.reopened"


class AppendOnly(Exception):
    """The audit log is append-only: entries are never changed or deleted."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("audit entries are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are never deleted")


class AuditEntry(models.Model):
    """Who did what, when, from where: one row per action, written by the code that performs it
    (`audit.services.record`), never changed or deleted afterwards."""

    created = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The username as it was (or as typed, for a failed login): kept when the user is renamed or deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)  # e.g. "ticket:42", "category:billing"
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # The list, newest first, and its time-range filter.
            models.Index(fields=["-created", "-id"], name="audit_created_idx"),
            # Filtered by user or by action, newest first.
            models.Index(fields=["actor_name", "-created"], name="audit_actor_created_idx"),
            models.Index(fields=["action", "-created"], name="audit_action_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are never deleted")
