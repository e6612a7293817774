"""The active learned model as the classifier chain uses it: loaded once per process and reused, reloaded
only when the active version changes (one small query per chunk tells), and failing safe: an artifact that
cannot be read, or is not what its version row says it is, is recorded on that row (admin shows it) and the
keyword rules answer instead."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.files.storage import default_storage

from classification.learned.model import ArtifactError, TextModel, loads, ticket_text
from classification.models import LearnedModel

logger = logging.getLogger(__name__)


class _Text(Protocol):
    subject: str
    body: str


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    # The confidence this category needs for the model to answer (set when the version was trained).
    threshold: float

    @property
    def confident(self) -> bool:
        return self.confidence >= self.threshold


def read_artifact(name: str, sha256: str) -> TextModel:
    """The model in a stored artifact, checked against the digest its version row recorded."""
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ArtifactError(f"artifact {name} cannot be read: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ArtifactError(f"artifact {name} is not the one trained (sha256 {digest[:12]}…, expected {sha256[:12]}…)")
    return loads(data)


_lock = threading.Lock()
# (version id, sha256) → the model, or why it could not be loaded (never retried for the same version).
_cached: tuple[tuple[int, str], TextModel | str] | None = None


def _load(version: int, name: str, sha256: str) -> TextModel | str:
    try:
        return read_artifact(name, sha256)
    except ArtifactError as exc:
        error = str(exc)[:2000]
    logger.error("learned model v%s cannot be used, the keyword rules answer instead: %s", version, error)
    LearnedModel.objects.filter(pk=version).update(load_error=error)
    return error


class ActiveModel:
    """The active version for one chunk of tickets: predictions made in one batch ahead of the chain
    (`prepare`), or one at a time."""

    def __init__(self, version: int, model: TextModel | None, thresholds: dict[str, float], error: str = "") -> None:
        self.version = version
        self.name = f"learned-v{version}"
        self.model = model
        self.thresholds = thresholds
        self.error = error
        self._ahead: dict[int, tuple[_Text, Prediction]] = {}

    def _predictions(self, tickets: Sequence[_Text]) -> list[Prediction]:
        assert self.model is not None
        answers = self.model.predict([ticket_text(t.subject, t.body) for t in tickets])
        floor = settings.LEARNED_MIN_CONFIDENCE
        return [
            Prediction(category, round(confidence, 4), max(float(self.thresholds.get(category, 1.01)), floor))
            for category, confidence in answers
        ]

    def prepare(self, tickets: Sequence[_Text]) -> None:
        """Predict every ticket of a chunk at once (a batch costs a fraction of single predictions)."""
        if self.model is not None and tickets:
            self._ahead = {id(t): (t, p) for t, p in zip(tickets, self._predictions(tickets), strict=True)}

    def predict(self, ticket: _Text) -> Prediction | None:
        if self.model is None:
            return None
        ahead = self._ahead.get(id(ticket))
        if ahead is not None and ahead[0] is ticket:
            return ahead[1]
        return self._predictions([ticket])[0]

    def explain(self, prediction: Prediction | None, answered: bool) -> dict[str, Any]:
        """What the learned model said about a ticket, kept in the classification's explanation."""
        if prediction is None:
            return {"version": self.version, "error": self.error}
        note = {"version": self.version, "category": prediction.category, "confidence": prediction.confidence}
        if not answered:
            note["threshold"] = prediction.threshold
            note["note"] = "below its threshold for this category: the keyword rules answered"
        return note


def active() -> ActiveModel | None:
    """The active version, or None when there is none (or the learned classifier is turned off)."""
    global _cached
    if not settings.LEARNED_CLASSIFIER_ENABLED:
        return None
    row = LearnedModel.objects.filter(is_active=True).values_list("pk", "sha256", "artifact", "thresholds").first()
    if row is None:
        return None
    version, sha256, name, thresholds = row
    cached = _cached
    if cached is None or cached[0] != (version, sha256):
        with _lock:
            cached = _cached
            if cached is None or cached[0] != (version, sha256):
                cached = ((version, sha256), _load(version, name, sha256))
                _cached = cached
    loaded = cached[1]
    if isinstance(loaded, str):
        return ActiveModel(version, None, thresholds, error=loaded)
    return ActiveModel(version, loaded, thresholds)


def invalidate() -> None:
    global _cached
    _cached = None
