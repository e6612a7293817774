"""Retrieval quality of similar tickets on a labeled CSV (BANKING77 as a proxy): index one split, query with
another, and count how many of each query's top k share its label (precision@k) and whether at least one does
(recall@k). The candidates come from an FTS5 index in memory built like the embedded default's (`search.fts5`:
same tokenizer, same terms, same BM25 weights), and the re-ranking is the worker's own (`incidents.similarity`)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classification.learned import embeddings as word_embeddings
from incidents import similarity
from search import backends


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    category: str = ""


Method = Callable[[Row], list[int]]


class _Index:
    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE fts USING fts5(subject, body, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO fts(rowid, subject, body) VALUES (?, ?, '')", enumerate(r.text for r in rows))

    def candidates(self, text: str, limit: int) -> list[int]:
        words = backends.terms(text)
        if not words:
            return []
        sql = "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, 2.0, 1.0), rowid DESC LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (backends.fts5_query(words), limit))]


def holdout(rows: Sequence[Row], fraction: float, seed: int = 0) -> tuple[list[Row], list[Row]]:
    """(indexed, queries): a seeded random `fraction` of the rows held out to query with, the rest indexed,
    both in the rows' order. For tuning on the training split without looking at the test split."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * (1 - fraction))
    return [rows[i] for i in sorted(order[:cut])], [rows[i] for i in sorted(order[cut:])]


def methods(indexed: Sequence[Row], candidates: int) -> dict[str, Method]:
    """Every way measured, by name: the text search alone; re-ranked by the character n-gram cosine (without
    and with the category boost: the previous choice), by the word embeddings' cosine, by both fused (the
    worker's `rerank` with its defaults: "fulltext+char+embeddings") or by reciprocal rank fusion of the two;
    and, for reference, brute-force cosines over every indexed row."""
    index = _Index(indexed)
    pool = [similarity.Candidate(i, r.text, r.category) for i, r in enumerate(indexed)]

    def search_only(query: Row) -> list[int]:
        return index.candidates(query.text, candidates)

    def reranked(**options: float) -> Method:
        def run(query: Row) -> list[int]:
            found = [pool[i] for i in index.candidates(query.text, candidates)]
            ranked = similarity.rerank(query.text, found, category=query.category, **options)
            return [pk for pk, _ in ranked]

        return run

    def reciprocal_rank_fusion(query: Row, k: int = 60) -> list[int]:
        found = [pool[i] for i in index.candidates(query.text, candidates)]
        fused: dict[int, float] = {}
        for weight in (0.0, 1.0):
            ranked = similarity.rerank(query.text, found, category_boost=0.0, embedding_weight=weight)
            for rank, (pk, _) in enumerate(ranked):
                fused[pk] = fused.get(pk, 0.0) + 1 / (k + rank)
        return sorted(fused, key=lambda pk: -fused[pk])

    def brute(analyzer: str, ngrams: tuple[int, int]) -> Method:
        vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True)
        matrix = vectorizer.fit_transform([r.text for r in indexed])

        def run(query: Row) -> list[int]:
            scores = (matrix @ vectorizer.transform([query.text]).T).toarray().ravel()
            return [int(i) for i in np.argsort(-scores, kind="stable")[:10]]

        return run

    def brute_embeddings() -> Method:
        vectors = word_embeddings.load()
        matrix = vectors.embed([r.text for r in indexed])

        def run(query: Row) -> list[int]:
            scores = matrix @ vectors.embed([query.text])[0]
            return [int(i) for i in np.argsort(-scores, kind="stable")[:10]]

        return run

    found = {
        "fulltext": search_only,
        "fulltext+char-tfidf": reranked(category_boost=0.0, embedding_weight=0.0),
        "fulltext+char-tfidf+category": reranked(category_boost=0.1, embedding_weight=0.0),
        "fulltext+embeddings": reranked(category_boost=0.0, embedding_weight=1.0),
        "fulltext+char+embeddings": reranked(),
        "fulltext+char+embeddings+category": reranked(category_boost=0.1),
        "fulltext+rrf(char,embeddings)": reciprocal_rank_fusion,
        "brute-word-tfidf": brute("word", (1, 2)),
        "brute-char-tfidf": brute("char_wb", (2, 5)),
    }
    with contextlib.suppress(word_embeddings.EmbeddingsUnavailable):  # a reference only: not without the wheel
        found["brute-embeddings"] = brute_embeddings()
    return found


def measure(method: Method, indexed: Sequence[Row], queries: Sequence[Row], k: int = 5) -> dict[str, float]:
    precision = recall = 0.0
    started, cpu = time.perf_counter(), time.process_time()
    for query in queries:
        top = method(query)[:k]
        same = sum(indexed[i].label == query.label for i in top)
        precision += same / k
        recall += same > 0
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    n = len(queries)
    return {
        f"precision@{k}": round(precision / n, 3),
        f"recall@{k}": round(recall / n, 3),
        "ms_per_query": round(1000 * elapsed / n, 2),
        # The process's CPU time: on a shared, loaded machine the wall clock also counts the waits for a core.
        "cpu_ms_per_query": round(1000 * cpu / n, 2),
        "queries": n,
        "indexed": len(indexed),
    }
