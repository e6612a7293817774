"""How similar tickets are: the re-ranking of the text search's candidates. Pure (no ORM; the only I/O is
reading the embedding wheel's vectors once per process), so `manage.py evaluate_similarity` measures exactly
what the worker runs.

Two cosines, fused by a weighted sum:
- character n-gram TF-IDF (char_wb 2-5 grams, sublinear tf), its IDF taken from the query and its candidates:
  no model to fit, store or refresh. It sees spelling: error codes, product names, typos.
- static word embeddings (`classification.learned.embeddings`: the 256-d token vectors shipped inside the
  `wordllama` wheel, a text's vector the mean of its tokens'): nothing downloaded, nothing fitted. It sees
  meaning: "I was made to pay an additional pound!" is nearer "I was overcharged a pound." than "Would I have
  to pay anything if I need an additional card?", which shares more characters with it.
The score is `(1 - EMBEDDING_WEIGHT) * char cosine + EMBEDDING_WEIGHT * embedding cosine`, 0..1 (1 for the same
text), and the order is the score's: the pages and the API sort the stored links by it, so what an agent sees
is what was measured. The embeddings' cosines run high between unrelated texts, so the thresholds on this
score (DUPLICATE_SIMILARITY, DUPLICATE_SAME_CUSTOMER_SIMILARITY, INCIDENT_SIMILARITY) were set where it is as
precise as the character cosine was at the old ones. Without the wheel the score is the character cosine
alone (logged once). Weights chosen on a held-out part of BANKING77's training split (docs/SIMILARITY.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classification.learned import embeddings as word_embeddings

# Weight of the word embeddings' cosine in the score; the character n-gram cosine has the rest.
EMBEDDING_WEIGHT = 0.7
# Added to the ranking (not to the score) of a candidate in the query's category. 0: with the embeddings in
# the ranking, a boost no longer helps on the held-out split (docs/SIMILARITY.md); the parameter stays for
# the evaluation's comparisons.
CATEGORY_BOOST = 0.0
# Characters of a body compared: the start says what a ticket is about; signatures and quotes come later.
BODY_CHARS = 1000
# Texts whose embedding is kept per process (about 1 KB each): a chunk's tickets share many candidates, and a
# popular ticket is a candidate again and again.
VECTORS_CACHED = 4096


@dataclass(frozen=True)
class Candidate:
    id: int
    text: str
    category: str = ""


def ticket_text(subject: str, body: str) -> str:
    return f"{subject}\n{body[:BODY_CHARS]}"


@lru_cache(maxsize=VECTORS_CACHED)
def _vector(text: str) -> np.ndarray:
    """A text's unit-length mean token vector, read-only; the wheel must be loaded."""
    out = word_embeddings.load().embed_one(text)
    out.setflags(write=False)
    return out


def _embedding_cosines(texts: list[str]) -> np.ndarray | None:
    """Cosine of each of texts[1:] with texts[0] in the wheel's embedding space; None without the wheel."""
    if word_embeddings.load_or_none("similar tickets ranked without word embeddings") is None:
        return None
    rows = np.stack([_vector(text) for text in texts])
    return np.asarray(rows[1:] @ rows[0], dtype=np.float64)


def rerank(
    query: str,
    candidates: Sequence[Candidate],
    *,
    category: str = "",
    category_boost: float = CATEGORY_BOOST,
    embedding_weight: float = EMBEDDING_WEIGHT,
) -> list[tuple[int, float]]:
    """(candidate id, similarity 0..1), most similar first (ties: the order given). A category boost
    reorders without changing the scores."""
    if not candidates or not query.strip():
        return []
    texts = [query, *(c.text for c in candidates)]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but blanks: no n-gram at all
        return []
    scores = (matrix[1:] @ matrix[0].T).toarray().ravel()
    if embedding_weight > 0:
        semantic = _embedding_cosines(texts)
        if semantic is not None:
            scores = (1.0 - embedding_weight) * scores + embedding_weight * semantic
    scores = np.clip(scores, 0.0, 1.0)
    boost = np.array([category_boost if category and c.category == category else 0.0 for c in candidates])
    order = np.argsort(-(scores + boost), kind="stable")
    return [(candidates[i].id, round(float(scores[i]), 4)) for i in order]
