"""Themes: clusters of similar tickets, found offline, labelled by their own words.

How (measured on BANKING77 in `make bench-analysis`; docs/ANALYSIS.md has the figures and what was tried):

1. Features: each text's mean static word embedding, from the vectors the `wordllama` wheel ships inside
   itself (classification.learned.embeddings: read from the installed package's files, no network), so
   "top up" and "add money" land near each other. Without that wheel: TF-IDF over words and word pairs
   (sublinear, English stop words out) reduced to SVD_DIMENSIONS dimensions. k-means on the unit-length
   vectors, k = one theme per TICKETS_PER_THEME documents (capped).
2. Refinement (self-training): a linear SVM over the sparse TF-IDF of words and pairs *with* stop words
   (`why`, `not`, `how` tell intents apart) learns the clusters from their most confident half and
   re-assigns every document, REFINE_ROUNDS times. Confidence is the SVM's margin (best minus second).
3. Noise left out: the NOISE_SHARE least confident documents, and clusters smaller than MIN_THEME_SIZE,
   belong to no theme (coverage = the share in a theme).

Memory: the embeddings are 256 floats a text and the TF-IDF matrices sparse word counts; the texts are the
reduce's bounded sample, so neither grows with the period.
Labels are each theme's most distinctive terms (its mean TF-IDF weight minus the corpus mean), no LLM.
The documents are the run's (a bounded sample) and the previous period's, clustered together so a theme
can be new, growing, shrinking, or faded (in the previous period only)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from classification.learned import embeddings as word_embeddings

logger = logging.getLogger(__name__)

SVD_DIMENSIONS = 100
TICKETS_PER_THEME = 100
MAX_THEMES = 200
MIN_THEMES = 8
REFINE_ROUNDS = 2
NOISE_SHARE = 0.2
MIN_THEME_SIZE = 5
LABEL_TERMS = 3
REPRESENTATIVES = 5
# Trends: a theme's share of the period against the previous period's.
GROWING, SHRINKING = 1.25, 0.8
SEED = 0
# Native threads (OpenMP, BLAS) for the clustering. One: the reduce runs in a prefork worker beside other
# processes on a small machine, and oversubscribed OpenMP threads spin: k-means on 12,000 texts took 55-69 s
# with 2 threads against 5-12 s with 1 on this 2-core machine under load (measured side by side).
NATIVE_THREADS = 1


@dataclass(frozen=True)
class Document:
    id: int
    text: str
    priority: str = ""
    sentiment: str = ""
    risk: float | None = None
    current: bool = True  # False: from the previous period (the baseline)


@dataclass
class Found:
    themes: list[dict[str, Any]] = field(default_factory=list)
    faded: list[dict[str, Any]] = field(default_factory=list)
    about: dict[str, Any] = field(default_factory=dict)
    # Each document's theme number (-1: none), in the order given; for evaluation.
    assignment: list[int] = field(default_factory=list)


def _theme_count(n: int) -> int:
    # A small run still gets a few themes: at least one per ten documents, up to MIN_THEMES.
    return max(1, min(MAX_THEMES, max(round(n / TICKETS_PER_THEME), min(MIN_THEMES, n // 10))))


def _embedded(texts: list[str]) -> np.ndarray | None:
    """Unit-length mean word embeddings of the texts, or None without the wordllama wheel (TF-IDF then)."""
    vectors = word_embeddings.load_or_none("themes on TF-IDF alone, without word embeddings")
    return None if vectors is None else vectors.embed(texts)


def cluster(texts: list[str], *, embeddings: bool = True) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """(labels, confidence, the label vectorizer, its matrix) for these texts; label -1 is noise.
    `embeddings=False`: TF-IDF alone, as without the wordllama wheel (the benchmark's comparison)."""
    n = len(texts)
    labeler = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2), min_df=2)
    try:
        words = labeler.fit_transform(texts)
    except ValueError:  # no term appears twice: nothing to group
        return np.full(n, -1), np.zeros(n), None, None
    k = min(_theme_count(n), n)
    embedded = _embedded(texts) if embeddings else None
    if embedded is not None:
        dense = embedded
    else:
        dims = min(SVD_DIMENSIONS, words.shape[1] - 1)
        dense = normalize(TruncatedSVD(dims, random_state=SEED).fit_transform(words)) if dims >= 2 else words.toarray()
    kmeans = KMeans(k, n_init=1, random_state=SEED).fit(dense)
    labels = kmeans.labels_
    confidence = (dense * normalize(kmeans.cluster_centers_)[labels]).sum(axis=1)
    labels, confidence = _refine(texts, labels, confidence)
    return _leave_noise_out(labels, confidence), confidence, labeler, words


def _refine(texts: list[str], labels: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The SVM reads words only: with the embedding appended it agreed with the intents a little more (0.708
    # against 0.677 on BANKING77's train split) but fitted ~8 times slower, the reduce's largest cost.
    if REFINE_ROUNDS <= 0 or len(set(labels)) < 3:
        return labels, confidence
    features = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2).fit_transform(texts)
    for _ in range(REFINE_ROUNDS):
        confident = confidence >= np.quantile(confidence, 0.5)
        if len(set(labels[confident])) < 3:
            break
        svm = LinearSVC(C=0.5, random_state=SEED).fit(features[confident], labels[confident])
        scores = svm.decision_function(features)
        labels = svm.classes_[scores.argmax(axis=1)]
        ranked = np.sort(scores, axis=1)
        confidence = ranked[:, -1] - ranked[:, -2]
    return labels, confidence


def _leave_noise_out(labels: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    labels[confidence < np.quantile(confidence, NOISE_SHARE)] = -1
    sizes = Counter(labels.tolist())
    for label, size in sizes.items():
        if label >= 0 and size < MIN_THEME_SIZE:
            labels[labels == label] = -1
    return labels


def _label(members: np.ndarray, words: Any, overall: np.ndarray, terms: np.ndarray) -> str:
    distinct = np.asarray(words[members].mean(axis=0)).ravel() - overall
    top = [str(terms[i]) for i in np.argsort(-distinct)[: LABEL_TERMS * 2]]
    chosen: list[str] = []
    for term in top:  # "card arrive" after "card" adds little: skip terms inside ones already chosen
        if not any(term in other or other in term for other in chosen):
            chosen.append(term)
    return ", ".join(chosen[:LABEL_TERMS])


def _mix(documents: list[Document], members: np.ndarray, attribute: str) -> dict[str, int]:
    counts = Counter(getattr(documents[i], attribute) or "unknown" for i in members)
    return dict(counts.most_common())


def _trend(current_share: float, previous_share: float, has_baseline: bool) -> str:
    if not has_baseline:
        return "no baseline"
    if previous_share == 0:
        return "new"
    ratio = current_share / previous_share
    return "growing" if ratio >= GROWING else "shrinking" if ratio <= SHRINKING else "steady"


def find(documents: list[Document], scale: int | None = None, *, embeddings: bool = True) -> Found:
    """The themes of these documents. `scale`: how many tickets the current documents stand for (the run's
    total when they are a sample), to estimate each theme's size."""
    started = time.perf_counter()
    current = np.array([d.current for d in documents], dtype=bool)
    n_current, n_previous = int(current.sum()), int((~current).sum())
    if n_current < MIN_THEME_SIZE:
        return Found(about={"documents": len(documents), "themes": 0, "coverage": 0.0})
    with threadpool_limits(limits=NATIVE_THREADS):
        labels, confidence, labeler, words = cluster([d.text for d in documents], embeddings=embeddings)
    overall = np.asarray(words.mean(axis=0)).ravel() if words is not None else None
    terms = labeler.get_feature_names_out() if labeler is not None else np.array([])
    themes: list[dict[str, Any]] = []
    faded: list[dict[str, Any]] = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = np.where(labels == label)[0]
        now = members[current[members]]
        before = members[~current[members]]
        label_text = _label(members, words, overall, terms) if overall is not None else ""
        now_share = 100 * len(now) / n_current
        before_share = 100 * len(before) / n_previous if n_previous else 0.0
        if len(now) < MIN_THEME_SIZE:
            if len(before) >= MIN_THEME_SIZE:
                faded.append(
                    {"label": label_text, "previous_count": len(before), "previous_share": round(before_share, 1)}
                )
            continue
        best = now[np.argsort(-confidence[now])]
        themes.append(
            {
                "label": label_text,
                "count": len(now),
                "share": round(now_share, 1),
                "estimated_size": round(now_share / 100 * (scale or n_current)),
                "previous_count": len(before),
                "previous_share": round(before_share, 1),
                "trend": _trend(now_share, before_share, n_previous > 0),
                "representatives": [documents[i].id for i in best[:REPRESENTATIVES]],
                "ticket_ids": sorted(documents[i].id for i in now),
                "priority_mix": _mix(documents, now, "priority"),
                "sentiment_mix": _mix(documents, now, "sentiment"),
            }
        )
    themes.sort(key=lambda theme: (-theme["count"], theme["label"]))
    for number, theme in enumerate(themes, start=1):
        theme["id"] = number
    covered = int((labels[current] >= 0).sum())
    return Found(
        themes=themes,
        faded=sorted(faded, key=lambda theme: -theme["previous_count"]),
        about={
            "documents": len(documents),
            "current_documents": n_current,
            "previous_documents": n_previous,
            "sampled": bool(scale and scale > n_current),
            "themes": len(themes),
            "coverage": round(covered / n_current, 3),
            "seconds": round(time.perf_counter() - started, 2),
        },
        assignment=labels.tolist(),
    )
