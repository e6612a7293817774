from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

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
    assert set(figures) >= {"fulltext", "fulltext+char-tfidf+category", "brute-char-tfidf"}
    best = figures["fulltext+char-tfidf+category"]
    assert (best["precision@2"], best["recall@2"], best["queries"], best["indexed"]) == (1.0, 1.0, 2, 6)


def test_an_unknown_method_or_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown method"):
        call_command("evaluate_similarity", str(_csv(tmp_path)), "--method", "magic")
    with pytest.raises(CommandError, match="no rows"):
        call_command("evaluate_similarity", str(_csv(tmp_path)), "--query", "validation")
