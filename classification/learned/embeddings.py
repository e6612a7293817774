"""Static word embeddings for the learned model: the 256-dimensional token vectors and the tokenizer that the
`wordllama` wheel ships inside itself (`weights/l2_supercat_256.safetensors`, 16 MB, and
`tokenizers/l2_supercat_tokenizer_config.json`). A text's vector is the mean of its tokens' vectors, scaled
to unit length.

Read straight from the installed package's files: `wordllama` itself is never imported (its import sets up
logging for the whole process, and its loader may fall back to downloading from Hugging Face). Nothing here
touches the network: the weights are read with safetensors and the tokenizer with `Tokenizer.from_file`.
A model records which wheel's vectors it learned on (package, version, the weights' SHA-256); a process
without that wheel, or with other vectors, cannot use the model (`EmbeddingsUnavailable`), and the
classifier chain fails safe to the keyword rules.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PACKAGE = "wordllama"
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
WEIGHTS_TENSOR = "embedding.weight"


class EmbeddingsUnavailable(RuntimeError):
    """The embedding wheel is not installed, or its files are missing or not the expected ones."""


@dataclass(frozen=True)
class Provenance:
    package: str
    version: str
    weights: str
    weights_sha256: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class WordEmbeddings:
    def __init__(self, matrix: np.ndarray, tokenizer: Any, provenance: Provenance) -> None:
        self.matrix = matrix
        self.tokenizer = tokenizer
        self.provenance = provenance

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def _mean(self, ids: Sequence[int]) -> np.ndarray:
        """The mean of these tokens' vectors (zeros without tokens), not normalised."""
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        rows = self.matrix[np.clip(np.asarray(ids, dtype=np.int64), 0, self.matrix.shape[0] - 1)]
        return rows.mean(axis=0).astype(np.float32, copy=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text: the mean of its tokens' vectors (zeros for a text without tokens)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        out = np.stack([self._mean(e.ids) for e in encodings]) if texts else np.zeros((0, self.dim), np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_one(self, text: str) -> np.ndarray:
        """`embed` for a single text without the batch's thread pool, which costs more to wake than a short
        text costs to tokenize."""
        out = self._mean(self.tokenizer.encode(text, add_special_tokens=False).ids)
        norm = float(np.linalg.norm(out))
        return out / norm if norm else out


def _package_dir() -> Path:
    try:
        spec = importlib.util.find_spec(PACKAGE)
        version = metadata.version(PACKAGE)
    except (ImportError, ValueError, metadata.PackageNotFoundError) as exc:
        raise EmbeddingsUnavailable(f"the {PACKAGE} wheel is not installed ({exc})") from exc
    if spec is None or spec.origin is None or not version:
        raise EmbeddingsUnavailable(f"the {PACKAGE} wheel is not installed")
    return Path(spec.origin).parent


def _read(directory: Path) -> WordEmbeddings:
    weights, tokenizer_file = directory / WEIGHTS, directory / TOKENIZER
    if not weights.is_file() or not tokenizer_file.is_file():
        raise EmbeddingsUnavailable(f"the {PACKAGE} wheel lacks {WEIGHTS} or {TOKENIZER}")
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        data = weights.read_bytes()
        matrix = load_file(str(weights))[WEIGHTS_TENSOR].astype(np.float32)
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:  # a missing dependency, a damaged file: the vectors cannot be used either way
        raise EmbeddingsUnavailable(f"the {PACKAGE} vectors cannot be read: {type(exc).__name__}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    provenance = Provenance(PACKAGE, metadata.version(PACKAGE), WEIGHTS, hashlib.sha256(data).hexdigest())
    return WordEmbeddings(matrix, tokenizer, provenance)


_lock = threading.Lock()
_loaded: WordEmbeddings | None = None


def load() -> WordEmbeddings:
    """The wheel's vectors, read once per process. Raises EmbeddingsUnavailable (not cached: an install
    later in the process's life is seen)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _read(_package_dir())
    return _loaded


_unavailable_warned: set[str] = set()


def load_or_none(purpose: str) -> WordEmbeddings | None:
    """`load`, or None when the wheel's vectors are unavailable, logged once per process for each `purpose` (what
    goes without them, e.g. "similar tickets ranked without word embeddings")."""
    try:
        return load()
    except EmbeddingsUnavailable as exc:
        if purpose not in _unavailable_warned:
            _unavailable_warned.add(purpose)
            logger.warning("%s: %s", purpose, exc)
        return None


def matching(expected: dict[str, Any]) -> WordEmbeddings:
    """The vectors a model was trained on, or EmbeddingsUnavailable saying why they are not here."""
    found = load()
    if found.provenance.weights_sha256 != expected.get("weights_sha256"):
        raise EmbeddingsUnavailable(
            f"the model learned on {expected.get('package')} {expected.get('version')} vectors "
            f"(sha256 {str(expected.get('weights_sha256'))[:12]}…); this process has "
            f"{found.provenance.version} (sha256 {found.provenance.weights_sha256[:12]}…)"
        )
    return found
