"""Finding the chunks that answer a question: `search(query, k)`, ranked chunks of published articles with
their article, best first. The same shape as search.backends: PostgreSQL full-text search over a weighted
tsvector (heading A, text B) from a GIN index, query terms OR-joined; SQLite FTS5 ranked by BM25 with the
heading weighted double. The terms are search.backends.terms (no stop words, nothing a query syntax reads)."""

from __future__ import annotations

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


def _postgresql(using: str, words: list[str], k: int) -> list[tuple[int, float]]:
    sql = f"""
        WITH matched AS (
            SELECT c.id, ({PG_VECTOR}) AS vector
            FROM knowledge_chunk c JOIN knowledge_article a ON a.id = c.article_id
            WHERE a.published AND ({PG_VECTOR})
                @@ to_tsquery('english', %(query)s)
            ORDER BY c.id DESC LIMIT %(ranked)s
        )
        SELECT id, ts_rank(vector, to_tsquery('english', %(query)s)) AS score FROM matched
        ORDER BY score DESC, id LIMIT %(k)s
    """
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {"query": pg_query(words), "ranked": PG_RANKED_MATCHES, "k": k})
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _sqlite(using: str, words: list[str], k: int) -> list[tuple[int, float]]:
    from knowledge.fts5 import TABLE

    sql = (
        f"SELECT f.rowid, -bm25({TABLE}, 2.0, 1.0) AS score FROM {TABLE} f "
        "JOIN knowledge_chunk c ON c.id = f.rowid JOIN knowledge_article a ON a.id = c.article_id "
        f"WHERE {TABLE} MATCH %s AND a.published ORDER BY score DESC, f.rowid LIMIT %s"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [fts5_query(words), k])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def search(query: str, k: int | None = None, *, using: str = "default") -> list[Hit]:
    """The `k` (default settings.KB_TOP_K) chunks of published articles that best match `query`, best first,
    each with its article loaded. Higher scores are better; they compare within one search only."""
    k = settings.KB_TOP_K if k is None else k
    words = terms(query)
    if not words or k <= 0:
        return []
    vendor = connections[using].vendor
    if vendor == "postgresql":
        found = _postgresql(using, words, k)
    elif vendor == "sqlite":
        found = _sqlite(using, words, k)
    else:
        raise NotImplementedError(f"knowledge search on {vendor}")
    chunks = Chunk.objects.using(using).select_related("article").in_bulk([pk for pk, _ in found])
    return [Hit(chunk=chunks[pk], score=score, rank=n) for n, (pk, score) in enumerate(found, start=1) if pk in chunks]
