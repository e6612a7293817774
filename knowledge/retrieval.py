"""Finding the chunks that answer a question: `search(query, k)`, ranked chunks of published articles with
their article, best first. The same shape as search.backends: PostgreSQL full-text search over a weighted
tsvector (heading A, text B) from a GIN index, query terms OR-joined; SQLite FTS5 ranked by BM25 with the
heading weighted double. The terms are search.backends.terms (no stop words, nothing a query syntax reads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

from knowledge.models import Chunk
from search.backends import fts5_query, pg_query, terms

# The indexed expression (migration knowledge/0002): queries repeat it exactly for the index to serve.
PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, heading::text), 'A') || "
    "setweight(to_tsvector('english'::regconfig, text), 'B')"
)
# Unqualified columns are the chunk's (the article has no heading or text), so the join keeps the index usable.
# PostgreSQL ranks at most this many matches, the newest: a common word matches much of a large base.
PG_RANKED_MATCHES = 1000


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int


# One statement answers this many queries at most (SQLite caps a compound SELECT at 500 parts).
BATCH = 100


def _postgresql(using: str, queries: list[list[str]], k: int) -> list[tuple[int, int, float]]:
    part = f"""
        (WITH matched AS (
            SELECT c.id, ({PG_VECTOR}) AS vector
            FROM knowledge_chunk c JOIN knowledge_article a ON a.id = c.article_id
            WHERE a.published AND ({PG_VECTOR})
                @@ to_tsquery('english', %(query_{{n}})s)
            ORDER BY c.id DESC LIMIT %(ranked)s
        )
        SELECT {{n}} AS q, id, ts_rank(vector, to_tsquery('english', %(query_{{n}})s)) AS score FROM matched
        ORDER BY score DESC, id LIMIT %(k)s)
    """
    sql = " UNION ALL ".join(part.format(n=n) for n in range(len(queries)))
    params: dict[str, str | int] = {f"query_{n}": pg_query(words) for n, words in enumerate(queries)}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {**params, "ranked": PG_RANKED_MATCHES, "k": k})
        return [(row[0], row[1], float(row[2])) for row in cursor.fetchall()]


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


def _found(using: str, queries: list[list[str]], k: int) -> list[tuple[int, int, float]]:
    """(query's index, chunk id, score) for each query's best `k` chunks, one statement per BATCH queries."""
    vendor = connections[using].vendor
    if vendor == "postgresql":
        run = _postgresql
    elif vendor == "sqlite":
        run = _sqlite
    else:
        raise NotImplementedError(f"knowledge search on {vendor}")
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(queries), BATCH):
        found += [(start + q, pk, score) for q, pk, score in run(using, queries[start : start + BATCH], k)]
    return found


def search_many(queries: Sequence[str], k: int | None = None, *, using: str = "default") -> list[list[Hit]]:
    """`search` for each of `queries` (the tickets of a chunk), in the same order: two queries in all for up to
    BATCH of them, whatever their number; none when every query is empty."""
    k = settings.KB_TOP_K if k is None else k
    words = [terms(query) for query in queries]
    asked = [n for n, w in enumerate(words) if w]
    if not asked or k <= 0:
        return [[] for _ in queries]
    found = sorted(_found(using, [words[n] for n in asked], k), key=lambda row: (row[0], -row[2], row[1]))
    chunks = Chunk.objects.using(using).select_related("article").in_bulk({pk for _, pk, _ in found})
    hits: list[list[Hit]] = [[] for _ in queries]
    for q, pk, score in found:
        if pk in chunks:
            ranked = hits[asked[q]]
            ranked.append(Hit(chunk=chunks[pk], score=score, rank=len(ranked) + 1))
    return hits


def search(query: str, k: int | None = None, *, using: str = "default") -> list[Hit]:
    """The `k` (default settings.KB_TOP_K) chunks of published articles that best match `query`, best first,
    each with its article loaded. Higher scores are better; they compare within one search only."""
    return search_many([query], k, using=using)[0]
