from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

# Right answers known: the default taxonomy gets rows 1-3 and 5 right and row 4 wrong.
CSV = """subject,body,label,split
Refund please,I was charged twice for my order,billing,test
Cannot log in,I forgot my password and I'm locked out,account,test
App crashes,The app is not working and shows an error,technical,test
Hello,Lorem ipsum dolor,billing,test
How do I export?,Where can I find the documentation,general,test
Ignored,refund refund,account,train
"""


@pytest.fixture
def labeled_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    path.write_text(CSV)
    return path


# Both text columns, the label column and the test rows of CSV above.
TEST_ROWS = ("--text-column", "subject", "--text-column", "body", "--label-column", "label", "--where", "split=test")


def _evaluate(*args: str) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


def test_json_report_has_the_known_figures(labeled_csv):
    report = json.loads(
        _evaluate(
            str(labeled_csv),
            *TEST_ROWS,
            "--json",
        )
    )
    assert set(report) == {"n", "accuracy", "macro_f1", "per_class", "confusion", "tickets_per_second"}
    assert report["n"] == 5
    assert report["accuracy"] == 0.8
    assert report["per_class"]["billing"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert report["per_class"]["general"]["precision"] == 0.5
    assert report["confusion"]["billing"]["general"] == 1
    # macro-F1 over the classes present: billing .6667, account 1, technical 1, general .6667
    assert report["macro_f1"] == pytest.approx((0.6667 + 1 + 1 + 0.6667) / 4, abs=1e-4)
    assert report["tickets_per_second"] > 0


def test_table_report_prints_every_part(labeled_csv):
    text = _evaluate(
        str(labeled_csv),
        "--label-column",
        "label",
        "--text-column",
        "subject",
        "--text-column",
        "body",
        "--where",
        "split=test",
    )
    assert "n = 5" in text and "accuracy = 0.8000" in text and "macro-F1" in text and "tickets/second" in text
    assert "confusion (rows: true label, columns: predicted)" in text


def test_a_taxonomy_file_is_used_instead_of_the_live_one(labeled_csv, tmp_path):
    taxonomy = tmp_path / "t.json"
    taxonomy.write_text(
        json.dumps(
            {
                "categories": [
                    {"slug": "general", "team": "x", "keywords": []},
                    {"slug": "billing", "team": "y", "keywords": [{"term": "lorem", "weight": 1}]},
                ]
            }
        )
    )
    report = json.loads(
        _evaluate(
            str(labeled_csv),
            "--text-column",
            "body",
            "--label-column",
            "label",
            "--where",
            "split=test",
            "--taxonomy",
            str(taxonomy),
            "--json",
        )
    )
    assert report["confusion"]["billing"]["billing"] == 1  # only the lorem row
    assert report["per_class"]["general"]["recall"] == 1.0


def test_a_missing_column_is_a_clear_error(labeled_csv):
    with pytest.raises(CommandError, match="no column"):
        _evaluate(str(labeled_csv), "--label-column", "nope")


def test_evaluate_stores_nothing(labeled_csv):
    from tickets.models import Ticket

    _evaluate(str(labeled_csv), "--text-column", "body", "--label-column", "label")
    assert Ticket.objects.count() == 0


def test_llm_and_both_report_side_by_side_through_the_fake_llm(labeled_csv, fake_llm):
    reports = json.loads(
        _evaluate(
            str(labeled_csv),
            *TEST_ROWS,
            "--classifier",
            "both",
            "--json",
        )
    )
    assert set(reports) == {"keyword", "llm"}
    assert reports["llm"]["n"] == 5 and reports["keyword"]["n"] == 5
    assert fake_llm.state.stats()["completions"] == 5


def test_llm_without_configuration_is_a_clear_error(labeled_csv):
    with pytest.raises(CommandError, match="no LLM is configured"):
        _evaluate(str(labeled_csv), "--text-column", "body", "--label-column", "label", "--classifier", "llm")


def test_a_body_over_pythons_csv_field_limit_is_read_whole(tmp_path):
    # Real issue and email bodies run past csv's 131,072-character default: no `_csv.Error`.
    path = tmp_path / "long.csv"
    path.write_text('subject,body,label\nRefund please,"' + "I was charged twice. " * 10_000 + '",billing\n')
    report = json.loads(
        _evaluate(str(path), "--text-column", "subject", "--text-column", "body", "--label-column", "label", "--json")
    )
    assert report["n"] == 1 and report["accuracy"] == 1.0
