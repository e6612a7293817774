"""How similar tickets are: the re-ranking of the text search's candidates. Pure (no ORM, no I/O), so
`manage.py evaluate_similarity` measures exactly what the worker runs.

Character n-gram TF-IDF cosine (char_wb 2-5 grams, sublinear tf), its IDF taken from the query and its
candidates: no model to fit, store or refresh. Candidates in the query's category rank a little higher
(CATEGORY_BOOST) but keep their own cosine as their score. Measured on BANKING77 (docs/SIMILARITY.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

# Added to the ranking (not to the score) of a candidate in the query's category.
CATEGORY_BOOST = 0.1
# Characters of a body compared: the start says what a ticket is about; signatures and quotes come later.
BODY_CHARS = 1000


@dataclass(frozen=True)
class Candidate:
    id: int
    text: str
    category: str = ""


def ticket_text(subject: str, body: str) -> str:
    return f"{subject}\n{body[:BODY_CHARS]}"


def rerank(
    query: str, candidates: Sequence[Candidate], *, category: str = "", category_boost: float = CATEGORY_BOOST
) -> list[tuple[int, float]]:
    """(candidate id, cosine similarity 0..1), most similar first (ties: the order given)."""
    if not candidates or not query.strip():
        return []
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)
    try:
        matrix = vectorizer.fit_transform([query, *(c.text for c in candidates)])
    except ValueError:  # nothing but blanks: no n-gram at all
        return []
    scores = (matrix[1:] @ matrix[0].T).toarray().ravel()
    boost = np.array([category_boost if category and c.category == category else 0.0 for c in candidates])
    order = np.argsort(-(scores + boost), kind="stable")
    return [(candidates[i].id, round(float(min(scores[i], 1.0)), 4)) for i in order]
