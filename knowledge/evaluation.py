"""Retrieval quality on a labeled set: tickets (subject and body, as customers write them) each paired with
the article that answers it (its `source_name`, e.g. demo/refunds.md). For each ticket the product's own
search runs on "subject\\nbody" and returns its KB_TOP_K chunks; the ticket's rank is the place of the first
chunk of the right article among them. Recall@k is the share ranked k or better, MRR the mean of 1/rank (0
when the article is not returned). knowledge/eval/README.md says how the committed set was made."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from knowledge import retrieval

DEFAULT_SET = Path(__file__).resolve().parent / "eval" / "tickets.json"
RECALL_AT = (1, 3, 5)


@dataclass(frozen=True)
class Labeled:
    id: int
    subject: str
    body: str
    article: str
    category: str = ""

    @property
    def question(self) -> str:
        return f"{self.subject}\n{self.body}"


@dataclass
class Figures:
    label: str
    count: int = 0
    ranks: list[int | None] = field(default_factory=list)
    misses: list[tuple[int, str]] = field(default_factory=list)

    def recall(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / self.count if self.count else 0.0

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "label": self.label,
            "tickets": self.count,
            **{f"recall@{k}": round(self.recall(k), 3) for k in RECALL_AT},
            "mrr": round(self.mrr, 3),
        }


def load(path: Path) -> list[Labeled]:
    """The labeled set: a JSON list of {id, subject, body, article, category?}. ValueError for a malformed one."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: expected a non-empty JSON list")
    try:
        return [
            Labeled(int(r["id"]), str(r["subject"]), str(r["body"]), str(r["article"]), str(r.get("category", "")))
            for r in rows
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: each entry needs id, subject, body and article ({exc})") from exc


def evaluate(pairs: Sequence[Labeled], search: Callable[[str], list[retrieval.Hit]], label: str) -> Figures:
    figures = Figures(label=label, count=len(pairs))
    for pair in pairs:
        hits = search(pair.question)
        rank = next((h.rank for h in hits if h.chunk.article.source_name == pair.article), None)
        figures.ranks.append(rank)
        if rank is None or rank > 3:
            figures.misses.append((pair.id, hits[0].chunk.article.source_name if hits else "nothing"))
    return figures


def product(pairs: Sequence[Labeled], using: str = "default") -> Figures:
    """Exactly what the product runs: retrieval.search with the configured settings."""
    label = (
        f"product (KB_SEMANTIC_WEIGHT={settings.KB_SEMANTIC_WEIGHT}, "
        f"KB_VECTOR_CANDIDATES={settings.KB_VECTOR_CANDIDATES})"
    )
    return evaluate(pairs, lambda q: retrieval.search(q, using=using), label)


def with_weight(pairs: Sequence[Labeled], weight: float, vector_candidates: int = 0, using: str = "default") -> Figures:
    k = settings.KB_TOP_K

    def run(question: str) -> list[retrieval.Hit]:
        return retrieval.rank(question, k, semantic_weight=weight, vector_candidates=vector_candidates, using=using)

    return evaluate(pairs, run, f"weight {weight}, {vector_candidates} vector candidates")
