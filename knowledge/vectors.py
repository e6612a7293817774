"""Candidates by meaning alone: the nearest chunks to a question's vector among every published chunk's, for
questions that share no word with their article (retrieval's full-text candidates miss those), in a base of
at most MAX_CHUNKS chunks. The vectors
are held in memory per process (float32, 1 KB a chunk: 35 MB at 35,000 chunks) and read again when the
knowledge base changes (its article count, latest write or newest chunk differ), which a search checks
at most every CHECK_SECONDS: a chunk written meanwhile is found by its words at once, by meaning alone
within seconds."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max

from knowledge import embedding
from knowledge.models import Article, Chunk

logger = logging.getLogger(__name__)


CHECK_SECONDS = 2.0
# The scan is brute force: up to this many chunks it costs a few milliseconds; above, it is skipped (at 35,000
# chunks it made a search four times slower, bench/kb.py: p50 113 ms against 27 ms, on a loaded machine).
MAX_CHUNKS = 5000


@dataclass
class _Index:
    version: tuple[object, ...]
    ids: np.ndarray
    matrix: np.ndarray
    checked: float = 0.0


_lock = threading.Lock()
_indexes: dict[str, _Index] = {}


def _version(using: str) -> tuple[object, ...]:
    articles = Article.objects.using(using).aggregate(n=Count("id"), updated=Max("updated"))
    chunks = Chunk.objects.using(using).aggregate(n=Count("id"), newest=Max("id"))
    return (articles["n"], articles["updated"], chunks["n"], chunks["newest"])


def _load(using: str, version: tuple[object, ...]) -> _Index:
    if int(str(version[2])) > MAX_CHUNKS:
        logger.info(
            "knowledge vectors: %s chunks, more than %s: no candidates by meaning alone", version[2], MAX_CHUNKS
        )
        return _Index(version, np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
    rows = Chunk.objects.using(using).filter(article__published=True, embedding__isnull=False)
    ids, blobs = [], []
    for pk, blob in rows.values_list("id", "embedding").iterator(chunk_size=5000):
        if blob is not None:
            ids.append(pk)
            blobs.append(bytes(blob))
    size = len(blobs[0]) if blobs else 0
    keep = [i for i, b in enumerate(blobs) if len(b) == size]  # a vector of another size cannot be compared
    if not keep:
        return _Index(version, np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
    data = b"".join(blobs[i] for i in keep)
    matrix = np.frombuffer(data, dtype=embedding.DTYPE).astype(np.float32).reshape(len(keep), -1)
    logger.info("knowledge vectors loaded: %s chunks", len(keep))
    return _Index(version, np.array([ids[i] for i in keep], dtype=np.int64), matrix)


def _index(using: str) -> _Index:
    found = _indexes.get(using)
    if found is not None and time.monotonic() - found.checked < CHECK_SECONDS:
        return found
    version = _version(using)
    if found is None or found.version != version:
        with _lock:
            found = _indexes.get(using)
            if found is None or found.version != version:
                found = _indexes[using] = _load(using, version)
    found.checked = time.monotonic()
    return found


def nearest(question: np.ndarray, n: int, using: str = "default") -> list[int]:
    """The ids of the `n` published chunks whose vectors are nearest `question` (a unit vector), best first."""
    index = _index(using)
    if n <= 0 or not len(index.ids) or index.matrix.shape[1] != question.shape[0]:  # none, or too many to scan
        return []
    scores = index.matrix @ question
    top = np.argpartition(-scores, min(n, len(scores)) - 1)[:n]
    return [int(index.ids[i]) for i in top[np.argsort(-scores[top])]]
