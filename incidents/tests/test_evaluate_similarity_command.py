from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from incidents import evaluation

pytestmark = pytest.mark.django_db

ROWS = [
    ("my card payment was declined", "declined", "train"),
    ("card declined at the shop", "declined", "train"),
    ("payment declined again on my card", "declined", "train"),
    ("how do I change my pin", "pin", "train"),
    ("I want a new pin for my card", "pin", "train"),
    ("change the pin number please", "pin", "train"),
    ("why was my card declined", "declined", "test"),
    ("how can I change my pin", "pin", "test"),
]


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "labeled.csv"
    path.write_text("text,intent,split\n" + "".join(f"{t},{i},{s}\n" for t, i, s in ROWS), encoding="utf-8")
    return path


def test_it_reports_precision_and_recall_per_method(tmp_path: Path) -> None:
    out = io.StringIO()

    call_command("evaluate_similarity", str(_csv(tmp_path)), "-k", "2", "--json", stdout=out)

    figures = json.loads(out.getvalue())
    assert set(figures) >= {
        "fulltext",
        "fulltext+char-tfidf+category",
        "fulltext+char+embeddings",
        "fulltext+rrf(char,embeddings)",
        "brute-char-tfidf",
        "brute-embeddings",
    }
    worker = figures["fulltext+char+embeddings"]
    assert (worker["precision@2"], worker["recall@2"], worker["queries"], worker["indexed"]) == (1.0, 1.0, 2, 6)
    assert worker["ms_per_query"] > 0 and worker["cpu_ms_per_query"] > 0


def test_holdout_queries_with_part_of_the_indexed_split_and_never_reads_the_other(tmp_path: Path) -> None:
    out = io.StringIO()

    call_command(
        "evaluate_similarity", str(_csv(tmp_path)), "--holdout", "0.5", "--method", "fulltext", "--json", stdout=out
    )

    figures = json.loads(out.getvalue())["fulltext"]
    assert (figures["queries"], figures["indexed"]) == (3, 3)
    with pytest.raises(CommandError, match="fraction"):
        call_command("evaluate_similarity", str(_csv(tmp_path)), "--holdout", "1")


def test_the_holdout_is_seeded_and_disjoint() -> None:
    rows = [evaluation.Row(f"text {i}", str(i % 3)) for i in range(10)]

    indexed, queries = evaluation.holdout(rows, 0.2)

    assert (len(indexed), len(queries)) == (8, 2)
    assert not set(indexed) & set(queries)
    assert set(indexed) | set(queries) == set(rows)
    assert (indexed, queries) == evaluation.holdout(rows, 0.2)


def test_an_unknown_method_or_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown method"):
        call_command("evaluate_similarity", str(_csv(tmp_path)), "--method", "magic")
    with pytest.raises(CommandError, match="no rows"):
        call_command("evaluate_similarity", str(_csv(tmp_path)), "--query", "validation")
