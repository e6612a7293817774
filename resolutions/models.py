from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from classification.models import Category, Classification
from tickets.models import Ticket


class Specialist(models.Model):
    """The specialist for one category: the instructions its model follows (edited in admin) and, optionally,
    its own model name on the LLM's endpoint (blank: LLM_MODEL). A category without one gets the default
    instructions of resolutions.defaults."""

    category = models.OneToOneField(Category, on_delete=models.CASCADE, related_name="specialist")
    instructions = models.TextField(help_text="What the specialist knows and how it works tickets of this category.")
    model_name = models.CharField(
        max_length=100, blank=True, help_text="A model name on the LLM's endpoint; blank: the LLM_MODEL setting."
    )
    active = models.BooleanField(default=True, help_text="Inactive: no drafts for this category.")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__position", "category__slug"]

    def __str__(self) -> str:
        return f"{self.category.name} specialist"


class DraftStatus(models.TextChoices):
    DRAFTING = "drafting", "Being drafted"
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class DraftSource(models.TextChoices):
    LLM = "llm", "Specialist model"
    TEMPLATE = "template", "Reply template and articles"


# What an agent may change before accepting; `changes` records these by name.
EDITABLE_FIELDS = ("diagnosis", "steps", "reply")


class Draft(models.Model):
    """A specialist's resolution draft for one classification of a ticket: diagnosis, steps for the agent, the
    customer reply (citing the knowledge-base sources it was given) and whether the ticket can be closed.
    One per classification (the claim that makes drafting idempotent); an agent accepts (perhaps after
    editing) or rejects it, and the decision stays on the row: who, when, what changed."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="resolution_drafts")
    classification = models.OneToOneField(Classification, on_delete=models.CASCADE, related_name="resolution_draft")
    category = models.CharField(max_length=50)
    specialist = models.ForeignKey(Specialist, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.DRAFTING)
    source = models.CharField(max_length=10, choices=DraftSource.choices, blank=True)
    fallback_reason = models.CharField(max_length=20, blank=True)
    fallback_detail = models.CharField(max_length=500, blank=True)

    diagnosis = models.TextField(blank=True)
    steps = models.JSONField(default=list, blank=True)
    reply = models.TextField(blank=True)
    can_close = models.BooleanField(default=False)
    # [{"n", "article_id", "chunk_id", "rank", "title", "heading", "page"}]: the sources the reply cites, each
    # one of those retrieved for it.
    citations = models.JSONField(default=list, blank=True)

    model_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # {"reply": {"old": ..., "new": ...}, ...}: what the agent changed before accepting (empty: accepted as is).
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True, help_text="Why it was rejected, when someone said.")

    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # A ticket's latest draft (its page, its API).
            models.Index(fields=["ticket", "-created"], name="resdraft_ticket_created_idx"),
            # The day's specialist tokens for the LLM budget.
            models.Index(fields=["source", "created"], name="resdraft_source_created_idx"),
        ]

    def __str__(self) -> str:
        return f"draft {self.pk} for ticket {self.ticket_id} ({self.status})"

    @property
    def edited(self) -> bool:
        return bool(self.changes)
