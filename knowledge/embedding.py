"""Chunk and question vectors for the semantic re-ranking: the static word embeddings of the `wordllama`
wheel (classification.learned.embeddings, read offline from the installed package). A chunk's vector is
computed when it is written (services.rechunk) and stored beside it as float16 bytes (`Chunk.embedding`, 512
bytes for 256 dimensions; no pickle). Without the wheel, no vectors: retrieval falls back to full text alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classification.learned import embeddings

DTYPE = np.float16


def chunk_text(title: str, heading: str, text: str) -> str:
    """What a chunk's vector is computed from: its article's title and its heading say what it is about."""
    parts = [title] if title and title != heading else []
    return "\n".join([*parts, heading, text])


def embed(texts: Sequence[str]) -> np.ndarray | None:
    """Unit-length float32 rows, one per text; None without the wheel's vectors."""
    vectors = embeddings.load_or_none("knowledge base without semantic re-ranking") if texts else None
    return None if vectors is None else vectors.embed(texts)


def to_bytes(vector: np.ndarray) -> bytes:
    return vector.astype(DTYPE).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=DTYPE).astype(np.float32)
