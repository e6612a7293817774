"""manage.py evaluate_similarity FILE.csv: precision@k and recall@k of similar tickets per method."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classification import keywords, rules
from classification.evaluation import EvaluationError, read_labeled_csv
from incidents import evaluation


class Command(BaseCommand):
    help = (
        "Retrieval quality of similar tickets on a labeled CSV: index the rows of one split, query with the "
        "other's, and report precision@k (share of the top k with the query's label) and recall@k (at least one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--text-column", default="text")
        parser.add_argument("--label-column", default="intent")
        parser.add_argument("--split-column", default="split")
        parser.add_argument("--index", default="train", help="the split indexed (default: train)")
        parser.add_argument("--query", default="test", help="the split queried with (default: test)")
        parser.add_argument(
            "--holdout",
            type=float,
            help="tune without the query split: index the --index split less this seeded random fraction of it, "
            "and query with that fraction (e.g. 0.2)",
        )
        parser.add_argument("-k", type=int, default=5)
        parser.add_argument("--candidates", type=int, default=50, help="text-search candidates re-ranked")
        parser.add_argument("--method", action="append", help="only these methods (repeatable)")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def _rows(self, options: dict[str, Any], split: str) -> list[evaluation.Row]:
        try:
            labeled = read_labeled_csv(
                options["file"],
                text_columns=[options["text_column"]],
                label_column=options["label_column"],
                where=[(options["split_column"], split)],
            )
        except (EvaluationError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        # Every ticket carries the category its classification gave it: here the keyword classifier's.
        rule_set = rules.current_rules()
        return [
            evaluation.Row(row.body, row.label, keywords.classify(rule_set, row.subject, row.body).category)
            for row in labeled
        ]

    def handle(self, *args: Any, **options: Any) -> None:
        indexed = self._rows(options, options["index"])
        if options["holdout"] is not None:
            if not 0 < options["holdout"] < 1:
                raise CommandError("--holdout is a fraction between 0 and 1")
            indexed, queries = evaluation.holdout(indexed, options["holdout"])
        else:
            queries = self._rows(options, options["query"])
        if not indexed or not queries:
            raise CommandError("no rows to index or to query with: check --index, --query and --split-column")
        methods = evaluation.methods(indexed, options["candidates"])
        chosen = options["method"] or list(methods)
        unknown = [name for name in chosen if name not in methods]
        if unknown:
            raise CommandError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(methods)}")
        figures = {name: evaluation.measure(methods[name], indexed, queries, options["k"]) for name in chosen}
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
            return
        k = options["k"]
        self.stdout.write(f"{len(indexed)} indexed, {len(queries)} queries, top {k}")
        for name, row in figures.items():
            self.stdout.write(
                f"{name:34} precision@{k} {row[f'precision@{k}']:.3f}  recall@{k} {row[f'recall@{k}']:.3f}"
                f"  {row['ms_per_query']:.2f} ms/query ({row['cpu_ms_per_query']:.2f} ms CPU)"
            )
