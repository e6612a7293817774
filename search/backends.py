"""One interface for finding tickets by text: `candidates(text)`, the tickets whose words match, best first.

PostgreSQL: full-text search over a weighted tsvector (subject A, body B) with the query's terms OR-joined,
as Discourse's similar topics do, beside trigram similarity on the subject; both from GIN indexes. SQLite: an
FTS5 table (`search.fts5`) ranked by BM25 with the subject weighted double. Same terms, same contract."""

from __future__ import annotations

import re

from django.db import connections

# Terms of a query at most, and how much of a body is indexed and read for them.
MAX_TERMS = 30
BODY_CHARS = 4000
# PostgreSQL ranks only the newest this many full-text matches, and of subject trigram matches: a common word
# (or subject) matches a large share of a million tickets, and ranking each would read its row (bench-scale at
# 200,000 tickets: the trigram arm alone took 140 ms over 25,000 matches; docs/SIMILARITY.md). Recent tickets
# are the ones worth finding.
PG_RANKED_MATCHES = 200
PG_TRIGRAM_MATCHES = 100
# Subjects match by trigrams at pg_trgm's `%` threshold (pg_trgm.similarity_threshold, 0.3 by default).

# The indexed expression (migration search/0001): queries must repeat it exactly for the index to serve.
PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, subject::text), 'A') || "
    f"setweight(to_tsvector('english'::regconfig, left(body, {BODY_CHARS})), 'B')"
)

_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "not",
        "no",
        "so",
        "as",
        "by",
        "from",
        "up",
        "out",
        "about",
        "into",
        "than",
        "then",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "hi",
        "hello",
        "thanks",
        "thank",
        "please",
        "regards",
    ]
)


def terms(text: str) -> list[str]:
    """The distinct words of `text` worth searching for, in order: lower case, letters and digits only (so
    nothing in them means anything to a query syntax), no stop words, at most MAX_TERMS."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def fts5_query(words: list[str]) -> str:
    return " OR ".join(f'"{word}"' for word in words)


def pg_query(words: list[str]) -> str:
    return " | ".join(words)


def _postgresql(using: str, words: list[str], subject: str, limit: int, exclude: int | None) -> list[int]:
    sql = f"""
        WITH matched AS (
            SELECT id, ({PG_VECTOR}) AS vector FROM tickets_ticket
            WHERE ({PG_VECTOR}) @@ to_tsquery('english', %(query)s) AND id <> %(exclude)s
            ORDER BY id DESC LIMIT %(ranked)s
        ), full_text AS (
            SELECT id, ts_rank(vector, to_tsquery('english', %(query)s)) AS score FROM matched
            ORDER BY score DESC LIMIT %(limit)s
        ), trigram_matched AS (
            SELECT id, subject FROM tickets_ticket
            WHERE %(subject)s <> '' AND UPPER(subject::text) %% UPPER(%(subject)s) AND id <> %(exclude)s
            ORDER BY id DESC LIMIT %(trigram)s
        ), trigram AS (
            SELECT id, similarity(UPPER(subject::text), UPPER(%(subject)s)) AS score FROM trigram_matched
            ORDER BY score DESC LIMIT %(limit)s
        )
        SELECT id FROM (SELECT id, score FROM full_text UNION ALL SELECT id, score FROM trigram) found
        GROUP BY id ORDER BY MAX(score) DESC, id DESC LIMIT %(limit)s
    """
    params: dict[str, str | int] = {
        "query": pg_query(words),
        "subject": subject[:500],
        "exclude": exclude or 0,
        "ranked": PG_RANKED_MATCHES,
        "trigram": PG_TRIGRAM_MATCHES,
        "limit": limit,
    }
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _sqlite(using: str, words: list[str], limit: int, exclude: int | None) -> list[int]:
    from search.fts5 import TABLE

    sql = (
        f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s AND rowid <> %s "
        f"ORDER BY bm25({TABLE}, 2.0, 1.0), rowid DESC LIMIT %s"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [fts5_query(words), exclude or 0, limit])
        return [row[0] for row in cursor.fetchall()]


def candidates(
    subject: str, body: str = "", *, limit: int = 50, exclude: int | None = None, using: str = "default"
) -> list[int]:
    """Ids of the tickets that share words with this text (subject and the start of the body), best first,
    at most `limit`, never `exclude`. Empty when the text has no searchable word."""
    words = terms(f"{subject} {body[:BODY_CHARS]}")
    if not words:
        return []
    vendor = connections[using].vendor
    if vendor == "postgresql":
        return _postgresql(using, words, subject, limit, exclude)
    if vendor == "sqlite":
        return _sqlite(using, words, limit, exclude)
    raise NotImplementedError(f"text search on {vendor}")
