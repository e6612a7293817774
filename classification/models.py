from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from classification.keywords import KeywordError, parse_term
from classification.keywords.info import DEFAULT_TONE, INFO_KINDS, TONES
from tickets.models import Priority, Sentiment, Source, Ticket


class FallbackReason(models.TextChoices):
    """Why the keyword classifier answered instead of the LLM."""

    NOT_CONFIGURED = "not_configured", "no LLM configured"
    BREAKER_OPEN = "breaker_open", "LLM breaker open"
    TIMEOUT = "timeout", "LLM timed out"
    ERROR = "error", "LLM error"
    INVALID_OUTPUT = "invalid_output", "LLM answer off the schema"
    OVER_BUDGET = "over_budget", "daily LLM budget spent"


class TripReason(models.TextChoices):
    """Which condition opened a breaker (classification.breaker)."""

    CONSECUTIVE_FAILURES = "consecutive_failures", "consecutive failures"
    FAILURE_RATE = "failure_rate", "failure rate"
    SLOW_CALL_RATE = "slow_call_rate", "slow-call rate"
    TRIAL_FAILED = "trial_failed", "trial call failed"


def validate_keywords(value: Any) -> None:
    """Keywords are a list of {"term": str, "weight": number}; a term is a word, a phrase or `re:<regex>`."""
    if not isinstance(value, list):
        raise ValidationError("Keywords must be a list of {term, weight} entries.")
    errors = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("term"), str):
            errors.append(f"entry {index + 1}: needs a text 'term'")
            continue
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not -10 <= weight <= 10:
            errors.append(f"entry {index + 1} ({entry['term']!r}): weight must be a number in -10..10")
        try:
            parse_term(entry["term"])
        except KeywordError as exc:
            errors.append(f"entry {index + 1} ({entry['term']!r}): {exc}")
    if errors:
        raise ValidationError(errors)


def validate_required_info(value: Any) -> None:
    """Required information is a list of known kinds (order_id, error_code, email, phone, amount, url)."""
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise ValidationError('Required information must be a list of kinds, e.g. ["order_id"].')
    unknown = [kind for kind in value if kind not in INFO_KINDS]
    if unknown:
        raise ValidationError(f"Unknown kinds: {', '.join(unknown)}. Known: {', '.join(INFO_KINDS)}.")


class ReplyTone(models.TextChoices):
    FRIENDLY = TONES[0], "Friendly"
    FORMAL = TONES[1], "Formal"
    CONCISE = TONES[2], "Concise"


class Category(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, help_text="The LLM reads this to decide what belongs here.")
    team = models.CharField(max_length=50, help_text="Team that tickets of this category are routed to.")
    keywords = models.JSONField(default=list, blank=True, validators=[validate_keywords])
    reply_template = models.TextField(
        blank=True,
        help_text="Suggested reply. Placeholders: {customer_name}, {order_id}, {error_code}, {amount}, "
        "{email}, {url}, {team}, {category}.",
    )
    required_info = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_required_info],
        help_text='What a ticket of this category must give, e.g. ["order_id"]; the reply asks for what is '
        f"missing. Kinds: {', '.join(INFO_KINDS)}.",
    )
    reply_tone = models.CharField(
        max_length=10,
        choices=ReplyTone.choices,
        default=DEFAULT_TONE,
        help_text="The suggested reply's tone, unless a request asks for another.",
    )
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Classification(models.Model):
    """One classification attempt's result. Every attempt is kept; the ticket row holds the current one."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="classifications")
    source = models.CharField(max_length=10, choices=Source.choices)
    category = models.CharField(max_length=50)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    risk = models.FloatField()
    summary = models.TextField(blank=True)
    suggested_reply = models.TextField(blank=True)
    team = models.CharField(max_length=50)
    entities = models.JSONField(default=dict, blank=True)
    confidence = models.FloatField()
    matched_keywords = models.JSONField(default=list, blank=True)
    # Why the classifier decided what it did (priority cues, risk factors, sentiment cues, notes).
    explanation = models.JSONField(default=dict, blank=True)
    # The richer answer: other categories the ticket is also about ([{category, confidence}]), the phrases
    # that raised its priority, one sentence of reasoning, other teams it could go to
    # ([{team, category, confidence}]), the required information it lacks, and the reply's tone.
    secondary_categories = models.JSONField(default=list, blank=True)
    urgency_indicators = models.JSONField(default=list, blank=True)
    reasoning = models.TextField(blank=True)
    routing_alternatives = models.JSONField(default=list, blank=True)
    missing_info = models.JSONField(default=list, blank=True)
    reply_tone = models.CharField(max_length=10, choices=ReplyTone.choices, blank=True)
    fallback_reason = models.CharField(max_length=20, choices=FallbackReason.choices, blank=True)
    fallback_detail = models.CharField(max_length=500, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A human classification: the category of the automatic answer it replaced (blank if it replaced none).
    # Same category: a confirmation; another one: a correction, which the overview counts per category.
    replaced_category = models.CharField(max_length=50, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # A ticket's history on its detail page, newest first.
            models.Index(fields=["ticket", "-created"], name="classif_ticket_created_idx"),
            # Daily token budget: SUM(tokens) WHERE source = 'llm' AND created >= today.
            models.Index(fields=["source", "created"], name="classif_source_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.category} for ticket {self.ticket_id}"


class Citation(models.Model):
    """A knowledge-base source that a classification's suggested reply cites: always one of the chunks retrieved
    for its ticket (knowledge.grounding validates the model's citations before anything is stored; a reply
    written without a model cites the best of them). `rank` is the source's number in the prompt, its
    retrieval rank. The article's title, the section, the page and the quoted passage are kept as cited: an
    edited article is re-chunked (its chunks replaced), and a deleted one leaves its citations behind."""

    classification = models.ForeignKey(Classification, on_delete=models.CASCADE, related_name="citations")
    position = models.PositiveSmallIntegerField(help_text="0 for the first source cited.")
    rank = models.PositiveSmallIntegerField(help_text="The source's number in the prompt: its retrieval rank.")
    article = models.ForeignKey("knowledge.Article", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    chunk = models.ForeignKey("knowledge.Chunk", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=300)
    heading = models.CharField(max_length=300, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    score = models.FloatField()
    excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["classification_id", "position"]
        constraints = [
            # A source is cited once per answer; its index also serves fetching the citations of some classifications.
            models.UniqueConstraint(fields=["classification", "rank"], name="citation_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"[{self.rank}] {self.title}"


class BreakerState(models.Model):
    """A circuit breaker's shared state when it lives in the database (the embedded default: no Redis).
    One row per breaker, changed only by single conditional UPDATEs (`F("fail_counter") + 1`, a trial
    token taken only where none is held or it expired), so concurrent processes never lose a count."""

    name = models.CharField(max_length=50, primary_key=True)
    state = models.CharField(max_length=10, default="closed")
    fail_counter = models.PositiveIntegerField(default=0)
    success_counter = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # Which condition opened it last (classification.breaker: consecutive_failures, failure_rate, …).
    trip_reason = models.CharField(max_length=30, blank=True)
    # Who holds the half-open trial call, and until when (a holder that died loses it then).
    trial_token = models.CharField(max_length=100, blank=True)
    trial_expires = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.state} ({self.fail_counter} failures)"


class LearnedModel(models.Model):
    """One training run of the learned classifier: what it learned from, how it did on the held-back (newest)
    labels next to what it was compared with, and its artifact, a file in Django's default storage (never a
    blob in this table). At most one version is active; the chain uses that one."""

    class Decision(models.TextChoices):
        PROMOTED = "promoted", "Promoted: better than the active one"
        KEPT = "kept", "Not promoted: not better"
        ACTIVATED = "activated", "Activated by hand"
        DEACTIVATED = "deactivated", "Deactivated by hand"

    created = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=30, help_text="What asked for it: beat, command, …")
    source = models.CharField(max_length=200, help_text="Where the labels came from.")
    n_labels = models.PositiveIntegerField(default=0)
    n_train = models.PositiveIntegerField(default=0)
    n_holdout = models.PositiveIntegerField(default=0)
    # The newest human classification it learned from (the beat task counts the labels since).
    labels_until = models.DateTimeField(null=True, blank=True)
    classes = models.JSONField(default=list)
    # Per category: the confidence the model must reach to answer for it.
    thresholds = models.JSONField(default=dict)
    # On the held-back tickets: accuracy, macro_f1, per_class (precision, recall, f1, support).
    figures = models.JSONField(default=dict, blank=True)
    # What it was compared with on the same held-back tickets: {"name", "accuracy", "macro_f1"}.
    baseline = models.JSONField(default=dict, blank=True)
    fit_seconds = models.FloatField(default=0.0)
    artifact = models.FileField(upload_to="learned-models/", max_length=200)
    sha256 = models.CharField(max_length=64)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True)
    is_active = models.BooleanField(default=False)
    activated = models.DateTimeField(null=True, blank=True)
    # Set by a process that could not load the artifact (the rules answered instead).
    load_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # At most one active version: the one the chain uses.
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model"),
        ]

    def __str__(self) -> str:
        return f"learned model v{self.pk}"

    @property
    def name(self) -> str:
        return f"learned-v{self.pk}"


class BreakerCalls(models.Model):
    """A breaker's calls in one second, for its sliding window when its state lives in the database: one
    row per breaker and second, counted up by one upsert per call (so concurrent processes never lose a
    count) and deleted once the window has moved past it."""

    breaker = models.CharField(max_length=50)
    second = models.BigIntegerField()  # seconds since the epoch
    calls = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    slow = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # The per-call upsert (ON CONFLICT) and the window's sum over `second > now - window`.
            models.UniqueConstraint(fields=["breaker", "second"], name="breaker_calls_second_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.breaker} at {self.second}: {self.calls} calls, {self.failures} failed, {self.slow} slow"
