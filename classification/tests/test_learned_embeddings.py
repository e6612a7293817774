"""The learned model's word embeddings: read from the installed `wordllama` wheel, recorded in the artifact,
and failing safe when the wheel is missing or holds other vectors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classification import services
from classification.learned import embeddings, runtime, training
from classification.learned import model as text_model
from classification.tests.learned_data import labeled
from tickets.models import Source
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    runtime.invalidate()


@pytest.fixture
def no_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process where the embedding wheel is not installed."""
    monkeypatch.setattr(embeddings, "PACKAGE", "wordllama_not_installed_here")
    monkeypatch.setattr(embeddings, "_loaded", None)


def _fit(n: int = 80) -> text_model.TextModel:
    rows = labeled(n)
    return text_model.fit([f"{s}\n{b}" for s, b, _ in rows], [c for _, _, c in rows])


def _meta(data: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return dict(json.loads(str(npz["meta"])))


def test_the_vectors_come_from_the_wheel_and_the_artifact_says_which():
    found = embeddings.load()
    assert found.dim == 256 and found.provenance.package == "wordllama"
    vectors = found.embed(["my card was stolen", "", "my card was stolen"])
    assert np.allclose(np.linalg.norm(vectors[0]), 1) and not vectors[1].any() and np.allclose(vectors[0], vectors[2])
    data = text_model.dumps(_fit())
    meta = _meta(data)
    assert meta["params"]["embedding_weight"] > 0
    assert meta["embeddings"]["version"] == found.provenance.version
    assert meta["embeddings"]["weights_sha256"] == found.provenance.weights_sha256
    assert b"embedding.weight" not in data  # the vectors stay in the wheel


def test_without_the_wheel_a_model_is_trained_on_tfidf_alone(no_wheel):
    fitted = _fit()
    assert fitted.embeddings is None and fitted.params.embedding_weight == 0
    again = text_model.loads(text_model.dumps(fitted))
    texts = ["zorblax quillet again", "lumindel ombrel please"]
    assert again.predict(texts) == fitted.predict(texts)
    assert [c for c, _ in again.predict(texts)] == ["billing", "feature_request"]


def test_a_model_that_learned_on_the_vectors_cannot_load_without_them(monkeypatch):
    data = text_model.dumps(_fit())
    monkeypatch.setattr(embeddings, "_loaded", None)
    monkeypatch.setattr(embeddings, "PACKAGE", "wordllama_not_installed_here")
    with pytest.raises(text_model.ArtifactError, match="word embeddings"):
        text_model.loads(data)


def test_a_model_that_learned_on_other_vectors_cannot_load():
    meta = _meta(text_model.dumps(_fit()))
    meta["embeddings"]["weights_sha256"] = "0" * 64
    with pytest.raises(embeddings.EmbeddingsUnavailable, match="learned on"):
        embeddings.matching(meta["embeddings"])


def test_the_chain_falls_back_to_the_rules_when_the_active_version_lacks_its_vectors(monkeypatch):
    labels = [training.Label(s, b, c) for s, b, c in labeled(120)]
    version = training.train(labels, trigger="test", source="test", holdout=0, force_promote=True)
    assert version.is_active
    monkeypatch.setattr(embeddings, "_loaded", None)
    monkeypatch.setattr(embeddings, "PACKAGE", "wordllama_not_installed_here")
    ticket = TicketFactory.create(subject="zorblax quillet", body="marnix flentor")
    row = services.classify_ticket(ticket.pk)
    assert row is not None and row.source == Source.KEYWORD
    assert "word embeddings" in row.explanation["learned"]["error"]
    version.refresh_from_db()
    assert "not installed" in version.load_error
