"""The learned text model: word and character n-gram TF-IDF, with the text's mean static word embedding
(`embeddings.py`: vectors from the `wordllama` wheel) appended, into a linear SVM, calibrated by temperature
scaling fitted on cross-validated decision scores (softmax of the scaled scores: the ranking, and so the
category, stays the SVM's; only the confidence is calibrated). No Django; the only I/O is reading the embedding wheel.

The artifact is an `.npz` of plain arrays (vocabularies, idf weights, coefficients, calibration) written and
read with `allow_pickle=False`: loading one can never run code, and it does not depend on scikit-learn's
pickle format staying the same between versions. Prediction is sparse matrix products on those arrays.
The embedding vectors are not in the artifact: they come from the installed wheel when the model is
loaded, checked against the wheel's version and the weights' SHA-256 recorded in the artifact's
metadata; without them the artifact cannot be loaded (`ArtifactError`, and the chain's keyword rules
answer).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from classification.learned import embeddings as word_embeddings

logger = logging.getLogger(__name__)

FORMAT = "supportintel-learned-2"
# Artifacts this code reads: version 1 has no embeddings.
READABLE = {"supportintel-learned-1", FORMAT}
# The model reads the subject and the start of the body: past this many characters a ticket is usually a
# pasted log or a quoted thread, which costs time and says little about the category.
MAX_TEXT_CHARS = 3000


class ArtifactError(ValueError):
    """An artifact that cannot be read, or that is not a model this code wrote."""


@dataclass(frozen=True)
class Params:
    """What is learned from the text. Chosen on a dev split carved from BANKING77's train split only
    (docs/classifiers.md); the test split was never used to pick them."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    C: float = 0.5  # scikit-learn's name
    class_weight: str | None = None
    calibration_folds: int = 3
    # The unit-length mean word embedding is appended times this (each TF-IDF block has unit length too);
    # 0: no embeddings.
    embedding_weight: float = 1.0


def ticket_text(subject: str, body: str) -> str:
    return f"{subject or ''}\n{body or ''}"[:MAX_TEXT_CHARS]


def _vectorizers(params: Params) -> list[TfidfVectorizer]:
    return [
        TfidfVectorizer(ngram_range=params.word_ngrams, sublinear_tf=True, dtype=np.float32),
        TfidfVectorizer(analyzer="char_wb", ngram_range=params.char_ngrams, sublinear_tf=True, dtype=np.float32),
    ]


@dataclass
class TextModel:
    classes: list[str]
    vectorizers: list[TfidfVectorizer]
    coef: np.ndarray  # (classes or 1, features)
    intercept: np.ndarray
    # Calibration: probabilities are softmax(temperature * decision scores).
    temperature: float
    params: Params = field(default_factory=Params)
    fit_seconds: float = 0.0
    embeddings: word_embeddings.WordEmbeddings | None = None

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return _features(self.vectorizers, self.embeddings, self.params, texts, fit=False)

    @property
    def n_features(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers) + (self.embeddings.dim if self.embeddings else 0)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in `classes` order."""
        if not texts:
            return np.zeros((0, len(self.classes)))
        decision = np.asarray(self.features(texts) @ self.coef.T) + self.intercept
        return _softmax(_columns(decision) * self.temperature)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        proba = self.predict_proba(texts)
        best = proba.argmax(axis=1) if len(texts) else []
        return [(self.classes[i], float(proba[row, i])) for row, i in enumerate(best)]


def _features(
    vectorizers: list[TfidfVectorizer],
    embeddings: word_embeddings.WordEmbeddings | None,
    params: Params,
    texts: Sequence[str],
    *,
    fit: bool,
) -> sparse.csr_matrix:
    blocks = [v.fit_transform(texts) if fit else v.transform(texts) for v in vectorizers]
    if embeddings is not None:
        blocks.append(sparse.csr_matrix(params.embedding_weight * embeddings.embed(texts)))
    return sparse.hstack(blocks, format="csr")


def _training_embeddings(params: Params) -> tuple[Params, word_embeddings.WordEmbeddings | None]:
    """The vectors to learn with; without the wheel, a model without them (and a warning), not a failure."""
    if params.embedding_weight <= 0:
        return params, None
    try:
        return params, word_embeddings.load()
    except word_embeddings.EmbeddingsUnavailable as exc:
        logger.warning("learned model trained without word embeddings: %s", exc)
        return replace(params, embedding_weight=0.0), None


def _columns(decision: np.ndarray) -> np.ndarray:
    # Two classes have one decision column (the second class's score): as two columns, [0, d].
    return np.hstack([np.zeros_like(decision), decision]) if decision.shape[1] == 1 else decision


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _temperature(decision: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that makes softmax(T * d) most likely for the true labels (least log loss)."""
    scores = _columns(decision.reshape(len(labels), -1))

    def loss(temperature: float) -> float:
        proba = _softmax(scores * temperature)
        return float(-np.log(np.clip(proba[np.arange(len(labels)), labels], 1e-12, None)).mean())

    return float(minimize_scalar(loss, bounds=(0.05, 50.0), method="bounded").x)


def fit(texts: Sequence[str], labels: Sequence[str], params: Params | None = None) -> TextModel:
    """Fit on labeled texts (at least two classes). Raises ValueError when they cannot make a model."""
    params = params or Params()
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("a model needs labels of at least two categories")
    started = time.perf_counter()
    params, embeddings = _training_embeddings(params)
    vectorizers = _vectorizers(params)
    features = _features(vectorizers, embeddings, params, texts, fit=True)
    targets = np.array([classes.index(label) for label in labels])
    smallest = int(np.bincount(targets).min())
    if smallest < 2:
        raise ValueError("every category needs at least two labeled tickets")
    svm = LinearSVC(C=params.C, class_weight=params.class_weight)
    folds = StratifiedKFold(n_splits=min(params.calibration_folds, smallest), shuffle=True, random_state=0)
    decision = cross_val_predict(svm, features, targets, cv=folds, method="decision_function")
    temperature = _temperature(np.asarray(decision), targets)
    svm.fit(features, targets)
    return TextModel(
        classes=classes,
        vectorizers=vectorizers,
        coef=np.asarray(svm.coef_, dtype=np.float32),
        intercept=np.asarray(svm.intercept_, dtype=np.float32),
        temperature=temperature,
        params=params,
        fit_seconds=time.perf_counter() - started,
        embeddings=embeddings,
    )


def _vectorizer_arrays(index: int, vectorizer: TfidfVectorizer) -> dict[str, np.ndarray]:
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    return {f"v{index}_terms": np.array(terms, dtype=np.str_), f"v{index}_idf": vectorizer.idf_.astype(np.float32)}


def dumps(model: TextModel) -> bytes:
    meta: dict[str, Any] = {"format": FORMAT, "classes": model.classes, "params": model.params.__dict__}
    if model.embeddings is not None:
        meta["embeddings"] = model.embeddings.provenance.as_dict()
    arrays: dict[str, Any] = {
        "meta": np.array(json.dumps(meta)),
        "coef": model.coef,
        "intercept": model.intercept,
        "temperature": np.array(model.temperature),
    }
    for index, vectorizer in enumerate(model.vectorizers):
        arrays.update(_vectorizer_arrays(index, vectorizer))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _restored(vectorizer: TfidfVectorizer, terms: np.ndarray, idf: np.ndarray) -> TfidfVectorizer:
    if len(terms) != len(idf):
        raise ArtifactError("a vocabulary and its idf weights differ in length")
    vectorizer.vocabulary_ = {str(term): index for index, term in enumerate(terms)}
    vectorizer.idf_ = idf.astype(np.float32)
    return vectorizer


def loads(data: bytes) -> TextModel:
    """The model in an artifact written by `dumps`. Raises ArtifactError for anything else."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") not in READABLE:
            raise ArtifactError(f"not a model artifact of this version ({meta.get('format')!r})")
        stored: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
        params = Params(**{"embedding_weight": 0.0, **stored})
        embeddings = _stored_embeddings(meta, params)
        vectorizers = [
            _restored(v, arrays[f"v{i}_terms"], arrays[f"v{i}_idf"]) for i, v in enumerate(_vectorizers(params))
        ]
        model = TextModel(
            classes=[str(c) for c in meta["classes"]],
            vectorizers=vectorizers,
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            temperature=float(arrays["temperature"]),
            params=params,
            embeddings=embeddings,
        )
    except ArtifactError:
        raise
    except Exception as exc:  # a truncated zip, a missing array, bad JSON: all mean the same here
        raise ArtifactError(f"unreadable model artifact: {type(exc).__name__}: {exc}") from exc
    _check_shapes(model)
    return model


def _stored_embeddings(meta: dict[str, Any], params: Params) -> word_embeddings.WordEmbeddings | None:
    if params.embedding_weight <= 0:
        return None
    if not isinstance(meta.get("embeddings"), dict):
        raise ArtifactError("the artifact uses word embeddings but does not say which")
    try:
        return word_embeddings.matching(meta["embeddings"])
    except word_embeddings.EmbeddingsUnavailable as exc:
        raise ArtifactError(f"the word embeddings this model learned on are not available: {exc}") from exc


def _check_shapes(model: TextModel) -> None:
    columns = 1 if len(model.classes) == 2 else len(model.classes)
    n_features = model.n_features
    if model.coef.shape != (columns, n_features) or model.intercept.shape != (columns,):
        raise ArtifactError(f"coefficients of shape {model.coef.shape} do not fit {n_features} features")
    if not 0 < model.temperature < 1000:
        raise ArtifactError(f"calibration temperature {model.temperature} out of range")
