"""Finding the chunks that answer a question: `search(query, k)`, ranked chunks of published articles with
their article, best first.

Two stages. Candidates come from full-text search, the query's terms OR-joined (a reworded question shares
some words with its article, rarely all): PostgreSQL over a stored weighted tsvector (heading A, text B) with
a GIN index, SQLite FTS5 ranked by BM25 with the heading weighted double; the terms are search.backends.terms
(no stop words, nothing a query syntax reads), less the words most chunks hold (`distinctive`). Optionally
(settings.KB_VECTOR_CANDIDATES) the chunks nearest by meaning alone join them (knowledge.vectors). Then the
candidates are re-ranked by meaning: the cosine between the question's vector and each chunk's stored vector
(knowledge.embedding), fused with the full-text score scaled to the best candidate's. `manage.py evaluate_kb`
measures the weights on the labeled set (knowledge/eval/); README gives the figures. Without the embedding
wheel, full text alone ranks."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connections

from knowledge import embedding, vectors
from knowledge.models import Chunk
from search.backends import fts5_query, pg_query, terms

logger = logging.getLogger(__name__)

# The indexed expression (migration knowledge/0002): queries repeat it exactly for the index to serve.
PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, heading::text), 'A') || "
    "setweight(to_tsvector('english'::regconfig, text), 'B')"
)
# Stored in this generated column with a GIN index (migration knowledge/0005); unqualified columns are the
# chunk's. PostgreSQL ranks at most this many matches (a bound on the work; the distinctive words below keep
# far fewer), and reads pg_stats' common lexemes again after PG_STATS_SECONDS.
PG_COLUMN = "search_vector"
PG_RANKED_MATCHES = 5000
PG_STATS_SECONDS = 300
_pg_stats: dict[str, tuple[float, dict[str, float], float]] = {}
# Full-text candidates re-ranked by meaning (the labeled set's right article is among the first 30 for all
# but a few questions; more candidates cost time and let near-synonyms in).
CANDIDATES = 30
# Both rank by the distinctive words only (`distinctive`): those in at most this share of the chunks, or
# this many; the rarest KEEP_TERMS always. bench/kb.py: at 10,000 articles the common words made a search
# rank most of the 35,000 chunks.
COMMON_SHARE = 0.05
COMMON_MIN = 500
KEEP_TERMS = 3


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    # The cosine between the question's and the chunk's vectors (0 to 1 in practice): unlike `score`, it
    # compares across searches (the content-gap report reads the best one). None without the vectors.
    similarity: float | None = None


def _pg_common(using: str) -> tuple[dict[str, float], float]:
    """The chunks' most common lexemes with the share of chunks holding each (pg_stats, from ANALYZE), and the
    estimated number of chunks; cached for PG_STATS_SECONDS."""
    cached = _pg_stats.get(using)
    if cached is not None and time.monotonic() - cached[0] < PG_STATS_SECONDS:
        return cached[1], cached[2]
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = 'knowledge_chunk' AND attname = %s",
            [PG_COLUMN],
        )
        row = cursor.fetchone()
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'knowledge_chunk'")
        total = float(cursor.fetchone()[0])
    common = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    _pg_stats[using] = (time.monotonic(), common, total)
    return common, total


def _pg_counts(using: str, words: list[str]) -> tuple[list[int], int]:
    """Each word's estimated number of chunks (1 for a word outside the common lexemes), and the chunks'."""
    common, total = _pg_common(using)
    if not common:
        return [1] * len(words), int(total)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT w, ts_lexize('english_stem', w) FROM unnest(%s::text[]) AS w", [words])
        lexemes = {w: (lex or [w])[0] for w, lex in cursor.fetchall()}
    return [max(1, round(common.get(lexemes.get(w, w), 0.0) * total)) for w in words], int(total)


# One full-text statement answers this many queries at most (SQLite caps a compound SELECT at 500 parts), and
# one statement counts this many words' chunks (SQLite).
BATCH = 100
COUNT_BATCH = 400


def _postgresql(using: str, queries: list[list[str]], k: int) -> list[tuple[int, int, float]]:
    part = f"""
        (WITH matched AS (
            SELECT c.id, c.{PG_COLUMN} AS vector
            FROM knowledge_chunk c JOIN knowledge_article a ON a.id = c.article_id
            WHERE a.published AND c.{PG_COLUMN} @@ to_tsquery('english', %(query_{{n}})s)
            LIMIT %(ranked)s
        )
        SELECT {{n}} AS q, id, ts_rank(vector, to_tsquery('english', %(query_{{n}})s)) AS score FROM matched
        ORDER BY score DESC, id LIMIT %(k)s)
    """
    sql = " UNION ALL ".join(part.format(n=n) for n in range(len(queries)))
    params: dict[str, str | int] = {f"query_{n}": pg_query(words) for n, words in enumerate(queries)}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {**params, "ranked": PG_RANKED_MATCHES, "k": k})
        return [(row[0], row[1], float(row[2])) for row in cursor.fetchall()]


def distinctive(words: list[str], counts: list[int], total: int) -> list[str]:
    """The words worth ranking by: those in at most COMMON_SHARE of `total` chunks (and more than COMMON_MIN);
    the KEEP_TERMS rarest stay whatever their counts. A word in a third of a large base adds next to nothing to
    BM25, yet ranking every chunk it matches is most of a search's time."""
    limit = max(COMMON_MIN, COMMON_SHARE * total)
    rarest = set(sorted(words, key=lambda w: counts[words.index(w)])[:KEEP_TERMS])
    return [w for w, n in zip(words, counts, strict=True) if n and (n <= limit or w in rarest)]


def _sqlite_counts(using: str, words: list[str]) -> tuple[list[int], int]:
    """Each word's number of chunks and the chunks', in one statement per COUNT_BATCH words."""
    from knowledge.fts5 import TABLE

    counts: list[int] = []
    with connections[using].cursor() as cursor:
        total = 0
        for start in range(0, max(len(words), 1), COUNT_BATCH):
            batch = words[start : start + COUNT_BATCH]
            parts = [f"SELECT {n}, count(*) FROM {TABLE} WHERE {TABLE} MATCH %s" for n in range(len(batch))]
            parts.append("SELECT -1, count(*) FROM knowledge_chunk")
            cursor.execute(" UNION ALL ".join(parts), [fts5_query([word]) for word in batch])
            found = dict(cursor.fetchall())
            counts += [found[n] for n in range(len(batch))]
            total = found[-1]
        return counts, total


def _sqlite(using: str, queries: list[list[str]], k: int) -> list[tuple[int, int, float]]:
    from knowledge.fts5 import TABLE

    part = (
        f"SELECT * FROM (SELECT %s AS q, f.rowid, -bm25({TABLE}, 2.0, 1.0) AS score FROM {TABLE} f "
        "JOIN knowledge_chunk c ON c.id = f.rowid JOIN knowledge_article a ON a.id = c.article_id "
        f"WHERE {TABLE} MATCH %s AND a.published ORDER BY score DESC, f.rowid LIMIT %s)"
    )
    sql = " UNION ALL ".join([part] * len(queries))
    params = [value for n, words in enumerate(queries) for value in (n, fts5_query(words), k)]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], float(row[2])) for row in cursor.fetchall()]


def _full_text_many(queries: list[list[str]], limit: int, using: str) -> list[list[tuple[int, float]]]:
    """Each query's best `limit` chunks (id, full-text score), best first, ranked by its distinctive words: the
    words' counts for all queries at once, then one statement per BATCH queries."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        count, run = _pg_counts, _postgresql
    elif vendor == "sqlite":
        count, run = _sqlite_counts, _sqlite
    else:
        raise NotImplementedError(f"knowledge search on {vendor}")
    vocabulary = sorted({word for words in queries for word in words})
    counts, total = count(using, vocabulary)
    chunks_of = dict(zip(vocabulary, counts, strict=True))
    kept = [distinctive(words, [chunks_of[w] for w in words], total) for words in queries]
    asked = [n for n, words in enumerate(kept) if words]  # none of a query's words in any chunk: nothing found
    found: list[list[tuple[int, float]]] = [[] for _ in queries]
    for start in range(0, len(asked), BATCH):
        batch = asked[start : start + BATCH]
        rows = run(using, [kept[n] for n in batch], limit)
        for q, pk, score in sorted(rows, key=lambda row: (row[0], -row[2], row[1])):
            found[batch[q]].append((pk, score))
    return found


def _similarities(question: np.ndarray | None, chunks: Sequence[Chunk]) -> np.ndarray | None:
    """The cosine of the question's vector with each chunk's; None without the vectors (or a chunk's)."""
    stored = [c.embedding for c in chunks if c.embedding is not None]
    if question is None or len(stored) < len(chunks):
        return None
    return np.stack([embedding.from_bytes(vector) for vector in stored]) @ question


def _fill_vectors(chunks: Sequence[Chunk], using: str) -> None:
    """Give the chunks stored without their vector (written while the wheel was missing) their vector, once for
    a search's whole batch, and store it, so the next search reads it instead of computing it again."""
    missing = [c for c in chunks if c.embedding is None]
    computed = embedding.embed([embedding.chunk_text(c.article.title, c.heading, c.text) for c in missing])
    if not missing or computed is None:
        return
    for chunk, row in zip(missing, computed, strict=True):
        chunk.embedding = embedding.to_bytes(row)
    try:
        Chunk.objects.using(using).bulk_update(missing, ["embedding"])
    except DatabaseError as exc:  # a read-only connection, a lock: computed again next time, nothing lost
        logger.warning("knowledge: %d chunk vectors computed but not stored: %s", len(missing), exc)


def _with_nearest(
    found: list[tuple[int, float]], question: np.ndarray | None, vector_candidates: int, using: str
) -> list[tuple[int, float]]:
    """The full-text candidates, then (with vectors) the chunks nearest by meaning that words did not find, at
    full-text score 0."""
    if question is None or vector_candidates <= 0:
        return found
    seen = {pk for pk, _ in found}
    return found + [(pk, 0.0) for pk in vectors.nearest(question, vector_candidates, using) if pk not in seen]


def _fused(
    found: list[tuple[int, float]], chunks: dict[int, Chunk], question: np.ndarray | None, k: int, weight: float
) -> list[Hit]:
    found = [(pk, score) for pk, score in found if pk in chunks]
    if not found:
        return []
    ordered = [chunks[pk] for pk, _ in found]
    similarity = _similarities(question, ordered)
    full_text = np.array([score for _, score in found], dtype=np.float64)
    top = full_text.max()
    fused = full_text / top if top > 0 else np.zeros_like(full_text)
    if similarity is not None:
        fused = (1 - weight) * fused + weight * similarity
    order = sorted(range(len(found)), key=lambda i: (-fused[i], i))[:k]
    return [
        Hit(
            chunk=ordered[i],
            score=float(fused[i]) if similarity is not None else float(full_text[i]),
            rank=n,
            similarity=None if similarity is None else float(similarity[i]),
        )
        for n, i in enumerate(order, start=1)
    ]


def rank_many(
    queries: Sequence[str], k: int, *, semantic_weight: float, vector_candidates: int = 0, using: str = "default"
) -> list[list[Hit]]:
    """The search for each of `queries` (the tickets of a chunk), in the same order, with an explicit weight for
    meaning (0: full text alone; 1: meaning alone among the candidates) and `vector_candidates` nearest chunks by
    meaning added to the full-text ones. A query with nothing to search for finds nothing. The words' counts,
    one full-text statement per BATCH queries and one read of the chunks serve them all, whatever their number;
    the questions' vectors are one call."""
    words = [terms(query) for query in queries]
    asked = [n for n, w in enumerate(words) if w]
    hits: list[list[Hit]] = [[] for _ in queries]
    if k <= 0 or not asked:
        return hits
    limit = max(k, CANDIDATES) if semantic_weight > 0 else k
    found = _full_text_many([words[n] for n in asked], limit, using)
    questions = embedding.embed([queries[n] for n in asked]) if semantic_weight > 0 else None
    candidates = [
        _with_nearest(found[q], None if questions is None else questions[q], vector_candidates, using)
        for q in range(len(asked))
    ]
    # The article's body is not read: a hit shows its chunk and the article's title and references.
    chunks = (
        Chunk.objects.using(using)
        .select_related("article")
        .defer("article__body")
        .in_bulk({pk for rows in candidates for pk, _ in rows})
    )
    if questions is not None:
        _fill_vectors(list(chunks.values()), using)
    for q, n in enumerate(asked):
        question = None if questions is None else questions[q]
        hits[n] = _fused(candidates[q], chunks, question, k, semantic_weight)
    return hits


def rank(
    query: str, k: int, *, semantic_weight: float, vector_candidates: int = 0, using: str = "default"
) -> list[Hit]:
    """`rank_many` for one query: `search` runs it with the settings; the evaluation compares weights."""
    return rank_many([query], k, semantic_weight=semantic_weight, vector_candidates=vector_candidates, using=using)[0]


def search_many(queries: Sequence[str], k: int | None = None, *, using: str = "default") -> list[list[Hit]]:
    """`search` for each of `queries`, in the same order, in a few statements whatever their number."""
    k = settings.KB_TOP_K if k is None else k
    return rank_many(
        queries,
        k,
        semantic_weight=settings.KB_SEMANTIC_WEIGHT,
        vector_candidates=settings.KB_VECTOR_CANDIDATES,
        using=using,
    )


def search(query: str, k: int | None = None, *, using: str = "default") -> list[Hit]:
    """The `k` (default settings.KB_TOP_K) chunks of published articles that best match `query`, best first,
    each with its article loaded. Higher scores are better; they compare within one search only (a hit's
    `similarity` compares across searches)."""
    return search_many([query], k, using=using)[0]
