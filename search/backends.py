"""One interface for finding tickets by text: `candidates(text)`, the tickets whose words match, best first.

PostgreSQL: full-text search over a weighted tsvector (subject A, body B) with the query's terms OR-joined,
as Discourse's similar topics do, beside trigram similarity on the subject; both from GIN indexes. SQLite: an
FTS5 table (`search.fts5`) ranked by BM25 with the subject weighted double. Same terms, same contract."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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
# The subject trigram arm looks at the newest this many tickets only: a constant cost at any table size. Looking
# for the newest matches over the whole table walked the table until it found them, and a rare subject matched
# nothing for the whole walk (bench-scale with BANKING77's texts: 7 ms at 5,000 tickets, the walk growing with
# the table). Near-identical subjects matter most for duplicates and incidents, which are recent by definition;
# older tickets are found by the full-text arm, which covers the subject too (weight A) from its GIN index.
PG_TRIGRAM_RECENT = 1000
# Subjects match by trigrams at pg_trgm's `%` threshold (pg_trgm.similarity_threshold, 0.3 by default).

# The weighted tsvector (subject A, the body's start B). Migration search/0002 stores it in PG_VECTOR_COLUMN,
# kept by a trigger and indexed by GIN; queries read the column, never the expression (0001 indexed that).
PG_VECTOR_COLUMN = "search_vector"


def pg_vector(row: str = "") -> str:
    """The expression, over the columns of `row` ("NEW." in the trigger) or unqualified."""
    return (
        f"setweight(to_tsvector('english'::regconfig, {row}subject::text), 'A') || "
        f"setweight(to_tsvector('english'::regconfig, left({row}body, {BODY_CHARS})), 'B')"
    )


PG_VECTOR = pg_vector()

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


# One ticket's search (the placeholders suffixed by its position, so a chunk's tickets go in one statement): the
# newest PG_RANKED_MATCHES full-text matches ranked, beside the newest PG_TRIGRAM_MATCHES subject trigram matches.
_PG_ONE = f"""
    SELECT %(n{{i}})s AS n, id, ROW_NUMBER() OVER (ORDER BY MAX(score) DESC, id DESC) AS position FROM (
        SELECT id, score FROM (
            SELECT id, ts_rank({PG_VECTOR_COLUMN}, to_tsquery('english', %(query{{i}})s)) AS score FROM (
                SELECT id, {PG_VECTOR_COLUMN} FROM tickets_ticket
                WHERE {PG_VECTOR_COLUMN} @@ to_tsquery('english', %(query{{i}})s) AND id <> %(exclude{{i}})s
                ORDER BY id DESC LIMIT %(ranked)s
            ) matched ORDER BY score DESC LIMIT %(limit)s
        ) full_text
        UNION ALL
        SELECT id, score FROM (
            SELECT id, similarity(UPPER(subject::text), UPPER(%(subject{{i}})s)) AS score FROM (
                SELECT id, subject FROM (
                    SELECT id, subject FROM tickets_ticket ORDER BY id DESC LIMIT %(trigram_recent)s
                ) recent
                WHERE %(subject{{i}})s <> '' AND UPPER(subject::text) %% UPPER(%(subject{{i}})s)
                    AND id <> %(exclude{{i}})s
                ORDER BY id DESC LIMIT %(trigram)s
            ) trigram_matched ORDER BY score DESC LIMIT %(limit)s
        ) trigram
    ) found GROUP BY id ORDER BY MAX(score) DESC, id DESC LIMIT %(limit)s
"""


def _postgresql(using: str, queries: Sequence[Query], limit: int) -> list[list[int]]:
    """Every query's candidates in one statement (one round trip for a chunk of tickets). Each query is its own
    branch of a UNION ALL with its own values, so PostgreSQL plans each for its terms: walking the primary key
    backwards when matches are dense, the GIN index when they are rare."""
    params: dict[str, str | int] = {
        "ranked": PG_RANKED_MATCHES,
        "trigram": PG_TRIGRAM_MATCHES,
        "trigram_recent": PG_TRIGRAM_RECENT,
        "limit": limit,
    }
    branches = []
    for i, query in enumerate(queries):
        branches.append(f"({_PG_ONE.format(i=i)})")
        params.update(
            {
                f"n{i}": i,
                f"query{i}": pg_query(query.words),
                f"subject{i}": query.subject[:500],
                f"exclude{i}": query.exclude or 0,
            }
        )
    found: list[list[int]] = [[] for _ in queries]
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({' UNION ALL '.join(branches)}) found ORDER BY n, position", params)
        for n, pk, _ in cursor.fetchall():
            found[n].append(pk)
    return found


def _sqlite(using: str, words: list[str], limit: int, exclude: int | None) -> list[int]:
    from search.fts5 import TABLE

    sql = (
        f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s AND rowid <> %s "
        f"ORDER BY bm25({TABLE}, 2.0, 1.0), rowid DESC LIMIT %s"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [fts5_query(words), exclude or 0, limit])
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True)
class Query:
    """One text to find tickets for: its searchable words, its subject (trigram arm), a ticket to leave out."""

    words: list[str]
    subject: str
    exclude: int | None = None


def query_for(subject: str, body: str = "", exclude: int | None = None) -> Query:
    return Query(terms(f"{subject} {body[:BODY_CHARS]}"), subject, exclude)


def candidates_many(queries: Sequence[Query], *, limit: int = 50, using: str = "default") -> list[list[int]]:
    """For each query, the ids of the tickets that share words with it, best first, at most `limit`, never its
    `exclude`: `candidates` for a chunk of tickets at once (one statement on PostgreSQL)."""
    searchable = [i for i, query in enumerate(queries) if query.words]
    found: list[list[int]] = [[] for _ in queries]
    if not searchable:
        return found
    vendor = connections[using].vendor
    if vendor == "postgresql":
        for i, ids in zip(searchable, _postgresql(using, [queries[i] for i in searchable], limit), strict=True):
            found[i] = ids
    elif vendor == "sqlite":
        for i in searchable:
            found[i] = _sqlite(using, queries[i].words, limit, queries[i].exclude)
    else:
        raise NotImplementedError(f"text search on {vendor}")
    return found


def candidates(
    subject: str, body: str = "", *, limit: int = 50, exclude: int | None = None, using: str = "default"
) -> list[int]:
    """Ids of the tickets that share words with this text (subject and the start of the body), best first,
    at most `limit`, never `exclude`. Empty when the text has no searchable word."""
    return candidates_many([query_for(subject, body, exclude)], limit=limit, using=using)[0]
