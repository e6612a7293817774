from __future__ import annotations

import csv
import json
import random
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from classification.models import Category
from classification.services import record_correction
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

# A product's own vocabulary that the default taxonomy does not know.
VOCAB = {
    "billing": ["my quarterly statement from the ledgerbox is off", "ledgerbox double debit", "quarterly dues wrong"],
    "technical": ["the sprocket widget freezes", "sprocket widget throws a fault", "widget fault on sync"],
    "account": ["my keyfob badge is rejected", "reissue my keyfob badge", "badge access revoked"],
    "general": ["what are the opening times", "which branches open on sunday", "opening times question"],
}


def _labeled_rows(n: int) -> list[dict[str, str]]:
    rng = random.Random(4)
    rows = []
    for i in range(n):
        label = list(VOCAB)[i % 4]
        rows.append(
            {"text": f"{rng.choice(VOCAB[label])} {rng.choice(['please', 'today', 'again', ''])}", "label": label}
        )
    return rows


@pytest.fixture
def weak_taxonomy_csv(tmp_path: Path) -> Path:
    path = tmp_path / "labeled.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(_labeled_rows(200))
    return path


@pytest.fixture
def weak_taxonomy(tmp_path: Path) -> Path:
    """Deliberately weak: the right categories, one unhelpful keyword each."""
    path = tmp_path / "weak.json"
    categories = [{"slug": slug, "team": slug, "keywords": [{"term": "please", "weight": 0.1}]} for slug in VOCAB]
    path.write_text(json.dumps({"categories": categories}))
    return path


def _suggest(*args: str) -> str:
    out = StringIO()
    call_command("suggest_keywords", *args, stdout=out)
    return out.getvalue()


def test_it_improves_a_weak_taxonomy_on_held_back_rows_and_writes_a_file(weak_taxonomy_csv, weak_taxonomy, tmp_path):
    output = tmp_path / "tuned.json"
    text = _suggest(str(weak_taxonomy_csv), "--taxonomy", str(weak_taxonomy), "--output", str(output))
    line = next(line for line in text.splitlines() if line.startswith("On "))
    match = re.search(r"accuracy ([\d.]+) -> ([\d.]+)", line)
    assert match, line
    before, after = (float(x) for x in match.groups())
    assert before < 0.5 and after > 0.9, line
    tuned = {c["slug"]: {e["term"] for e in c["keywords"]} for c in json.loads(output.read_text())["categories"]}
    for slug, phrases in VOCAB.items():
        own_words = {word for phrase in phrases for word in phrase.split()} - {"my", "the", "on", "a", "from", "is"}
        learned = {word for term in tuned[slug] for word in term.split()}
        assert learned & own_words, slug
    assert "[billing] +" in text


def test_without_apply_the_live_taxonomy_is_untouched(weak_taxonomy_csv):
    before = list(Category.objects.order_by("slug").values_list("keywords", flat=True))
    _suggest(str(weak_taxonomy_csv))
    assert list(Category.objects.order_by("slug").values_list("keywords", flat=True)) == before


def test_apply_writes_the_tuned_keywords(weak_taxonomy_csv):
    _suggest(str(weak_taxonomy_csv), "--apply")
    terms = {entry["term"] for entry in Category.objects.get(slug="technical").keywords}
    assert "sprocket" in terms


def test_it_learns_from_human_corrections():
    agent = UserFactory.create()
    for row in _labeled_rows(80):
        ticket = TicketFactory.create(subject="", body=row["text"])
        record_correction(ticket, agent, {"category": row["label"]})
    text = _suggest("--from-corrections", "--holdout", "0.25")
    assert "Learned from 60 tickets; 20 held back" in text
    assert "+ keyfob" in text or "+ keyfob badge" in text


def test_it_reads_csv_fields_over_pythons_default_limit(tmp_path):
    rows = _labeled_rows(40)
    rows[0]["text"] = "ledgerbox double debit " * 8_000  # 184,000 characters
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    out = StringIO()
    call_command("suggest_keywords", str(path), "--text-column", "text", "--label-column", "label", stdout=out)
    assert "Learned from 32 tickets; 8 held back" in out.getvalue()
