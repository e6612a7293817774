"""Training, measuring and promoting versions of the learned classifier.

Labels are human classifications (corrections, confirmations, labeled imports) or a labeled file. They are
ordered by when they were given and the newest share is held back: a version is measured on tickets newer
than any it learned from, as it will be used. It is promoted only if it beats, on those same held-back
tickets, the active version (or, with none active, the keyword rules).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from classification import keywords, rules
from classification.evaluation import score
from classification.learned import model as text_model
from classification.learned.runtime import read_artifact
from classification.models import Category, Classification, LearnedModel
from tickets.models import Source, Ticket

logger = logging.getLogger(__name__)


class TrainingError(ValueError):
    """The labels cannot make a version (too few, one category only)."""


@dataclass(frozen=True)
class Label:
    subject: str
    body: str
    category: str
    at: datetime | None = None  # when it was given (None: a file's row, in file order)


def labels_from_database(limit: int | None = None) -> list[Label]:
    """Every ticket a person classified (its current, human classification) in an active category, oldest
    label first; at most `limit` (LEARNED_MAX_LABELS), the newest."""
    slugs = list(Category.objects.filter(active=True).values_list("slug", flat=True))
    newest = (
        Ticket.objects.filter(classification_source=Source.HUMAN, category__in=slugs, classified_at__isnull=False)
        .order_by("-classified_at", "-pk")
        .values_list("subject", "body", "category", "classified_at")
    )
    rows = list(newest[: limit or settings.LEARNED_MAX_LABELS])
    return [Label(subject, body, category, at) for subject, body, category, at in reversed(rows)]


def split(labels: Sequence[Label], fraction: float) -> tuple[list[Label], list[Label]]:
    """The oldest labels to learn from and the newest `fraction` held back."""
    held = round(len(labels) * fraction) if fraction > 0 else 0
    return list(labels[: len(labels) - held]), list(labels[len(labels) - held :])


def _texts(labels: Sequence[Label]) -> list[str]:
    return [text_model.ticket_text(label.subject, label.body) for label in labels]


def thresholds(
    predictions: Sequence[tuple[str, float]], truth: Sequence[str], classes: Sequence[str]
) -> dict[str, float]:
    """Per category, the lowest confidence above which the model's answers for it were at least
    LEARNED_TARGET_PRECISION precise on the held-back tickets (1.01: never precise enough, it never answers
    for it). A category it never predicted there gets LEARNED_MIN_CONFIDENCE."""
    target = settings.LEARNED_TARGET_PRECISION
    found: dict[str, float] = {}
    for name in classes:
        pairs = zip(predictions, truth, strict=True)
        mine = sorted(((conf, label == name) for (guess, conf), label in pairs if guess == name), key=lambda x: -x[0])
        threshold, correct = (settings.LEARNED_MIN_CONFIDENCE if not mine else 1.01), 0
        for count, (confidence, right) in enumerate(mine, start=1):
            correct += right
            if correct / count >= target:
                threshold = confidence
        found[name] = round(max(threshold, settings.LEARNED_MIN_CONFIDENCE), 4)
    return found


def _figures(truth: list[str], guesses: list[str]) -> dict[str, Any]:
    report = score(truth, guesses)
    return {key: report[key] for key in ("n", "accuracy", "macro_f1", "per_class")}


def _baseline(held: Sequence[Label]) -> dict[str, Any]:
    """What the new version must beat on the held-back tickets: the active version, or the keyword rules."""
    truth = [label.category for label in held]
    active = LearnedModel.objects.filter(is_active=True).first()
    if active is not None:
        try:
            guesses = [c for c, _ in read_artifact(active.artifact.name or "", active.sha256).predict(_texts(held))]
        except text_model.ArtifactError as exc:
            logger.warning("active %s cannot be read (%s): compared with nothing", active, exc)
            return {"name": active.name, "error": str(exc), "accuracy": 0.0, "macro_f1": 0.0}
        name = active.name
    else:
        rule_set = rules.current_rules()
        guesses = [keywords.classify(rule_set, label.subject, label.body).category for label in held]
        name = "keyword rules"
    figures = score(truth, guesses)
    return {"name": name, "accuracy": figures["accuracy"], "macro_f1": figures["macro_f1"]}


def _beats(figures: dict[str, Any], baseline: dict[str, Any]) -> bool:
    if not figures:
        return False
    mine, theirs = (figures["macro_f1"], figures["accuracy"]), (baseline["macro_f1"], baseline["accuracy"])
    return mine > theirs


def _store(version: LearnedModel, fitted: text_model.TextModel) -> None:
    data = text_model.dumps(fitted)
    version.sha256 = hashlib.sha256(data).hexdigest()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    version.artifact.save(f"model-{stamp}-{version.sha256[:12]}.npz", ContentFile(data), save=False)


def train(
    labels: Sequence[Label],
    *,
    trigger: str,
    source: str,
    holdout: float | None = None,
    force_promote: bool = False,
) -> LearnedModel:
    """Train a version on `labels` (oldest first), measure it on the newest `holdout` share, store it, and
    promote it if it beats the baseline there (or if `force_promote`). Raises TrainingError."""
    holdout = settings.LEARNED_HOLDOUT_FRACTION if holdout is None else holdout
    train_rows, held = split(labels, holdout)
    try:
        fitted = text_model.fit(_texts(train_rows), [label.category for label in train_rows])
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    version = LearnedModel(
        trigger=trigger,
        source=source[:200],
        n_labels=len(labels),
        n_train=len(train_rows),
        n_holdout=len(held),
        labels_until=max((label.at for label in labels if label.at is not None), default=None),
        classes=fitted.classes,
        fit_seconds=round(fitted.fit_seconds, 3),
    )
    if held:
        predictions = fitted.predict(_texts(held))
        truth = [label.category for label in held]
        version.figures = _figures(truth, [category for category, _ in predictions])
        version.thresholds = thresholds(predictions, truth, fitted.classes)
        version.baseline = _baseline(held)
    else:
        version.thresholds = dict.fromkeys(fitted.classes, settings.LEARNED_MIN_CONFIDENCE)
    _store(version, fitted)
    promote = _beats(version.figures, version.baseline) or force_promote
    version.decision = LearnedModel.Decision.PROMOTED if promote else LearnedModel.Decision.KEPT
    with transaction.atomic():
        version.save()
        if promote:
            activate(version, decision=version.decision)
    logger.info(
        "%s trained on %d labels (%s) in %.1fs: macro-F1 %s vs %s %s; %s",
        version,
        version.n_train,
        source,
        fitted.fit_seconds,
        version.figures.get("macro_f1"),
        version.baseline.get("name", "-"),
        version.baseline.get("macro_f1"),
        version.decision,
    )
    return version


@transaction.atomic
def activate(version: LearnedModel, *, decision: str = LearnedModel.Decision.ACTIVATED) -> None:
    """Make `version` the one the chain uses (a roll back, when it is an older one)."""
    LearnedModel.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active, version.activated, version.decision = True, timezone.now(), decision
    version.save(update_fields=["is_active", "activated", "decision"])


def deactivate() -> int:
    """No version active: the chain goes from the LLM straight to the keyword rules."""
    return LearnedModel.objects.filter(is_active=True).update(
        is_active=False, decision=LearnedModel.Decision.DEACTIVATED
    )


def new_labels_since_last_version() -> int:
    last = LearnedModel.objects.order_by("-created").values_list("created", flat=True).first()
    human = Classification.objects.filter(source=Source.HUMAN)
    return (human.filter(created__gt=last) if last else human).count()


def retrain_if_due(trigger: str = "beat") -> LearnedModel | None:
    """Train from the database once LEARNED_RETRAIN_AFTER human classifications arrived since the last
    version (and there are LEARNED_MIN_LABELS in all). The beat task's service; the version, or None."""
    if not settings.LEARNED_CLASSIFIER_ENABLED:
        return None
    arrived = new_labels_since_last_version()
    if arrived < settings.LEARNED_RETRAIN_AFTER:
        return None
    labels = labels_from_database()
    if len(labels) < settings.LEARNED_MIN_LABELS:
        logger.info("learned classifier: %d labels, %d needed to train", len(labels), settings.LEARNED_MIN_LABELS)
        return None
    logger.info("learned classifier: %d new labels since the last version; training", arrived)
    return train(labels, trigger=trigger, source=f"database ({arrived} new labels)")
