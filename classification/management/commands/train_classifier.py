from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classification.evaluation import EvaluationError, parse_where, read_labeled_csv
from classification.learned import training
from classification.models import Category


class Command(BaseCommand):
    help = (
        "Train a version of the learned classifier from a labeled CSV file, or without FILE from the tickets "
        "people classified (corrections, confirmations, labeled imports). The newest share of the labels is "
        "held back to measure it; it becomes active only if it beats the active version (or, with none, the "
        "keyword rules) on those same tickets, unless --promote."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="A labeled CSV file; its rows count oldest first.")
        parser.add_argument("--text-column", action="append", dest="text_columns")
        parser.add_argument("--label-column", default="label")
        parser.add_argument("--where", action="append", default=[], help="column=value row filter (repeatable)")
        parser.add_argument("--holdout", type=float, help="Share of the newest labels held back (default: setting).")
        parser.add_argument("--promote", action="store_true", help="Make this version active whatever its figures.")
        parser.add_argument("--json", action="store_true", help="Print the version's figures as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        labels, source = self._labels(options)
        holdout = options["holdout"]
        if holdout is not None and not 0 <= holdout < 1:
            raise CommandError("--holdout must be at least 0 and below 1")
        try:
            version = training.train(
                labels, trigger="command", source=source, holdout=holdout, force_promote=options["promote"]
            )
        except training.TrainingError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            fields = ("n_labels", "n_train", "n_holdout", "figures", "baseline", "thresholds", "fit_seconds")
            summary = {"version": version.pk, "active": version.is_active, **{f: getattr(version, f) for f in fields}}
            self.stdout.write(json.dumps(summary, indent=2))
            return
        self._report(version)

    def _labels(self, options: dict[str, Any]) -> tuple[list[training.Label], str]:
        if options["file"] is None:
            return training.labels_from_database(), "database"
        try:
            rows = read_labeled_csv(
                options["file"],
                text_columns=options["text_columns"] or ["text"],
                label_column=options["label_column"],
                where=parse_where(options["where"]),
            )
        except (OSError, EvaluationError) as exc:
            raise CommandError(str(exc)) from None
        slugs = set(Category.objects.filter(active=True).values_list("slug", flat=True))
        left_out = sorted({row.label for row in rows} - slugs)
        if left_out:
            self.stdout.write(f"Left out, not active categories: {', '.join(left_out[:20])}")
        labels = [training.Label(row.subject, row.body, row.label) for row in rows if row.label in slugs]
        return labels, f"file {options['file'].name}"

    def _report(self, version: Any) -> None:
        out = self.stdout.write
        learned = f"{version.n_train} labels learned in {version.fit_seconds:.1f}s"
        out(f"{version}: {learned}, {version.n_holdout} held back.")
        if version.figures:
            out(
                f"On the held-back tickets: accuracy {version.figures['accuracy']:.4f}, "
                f"macro-F1 {version.figures['macro_f1']:.4f}; {version.baseline['name']}: "
                f"accuracy {version.baseline['accuracy']:.4f}, macro-F1 {version.baseline['macro_f1']:.4f}."
            )
            for name, figures in version.figures["per_class"].items():
                threshold = version.thresholds.get(name, "—")
                out(
                    f"  {name:<16} precision {figures['precision']:.4f} recall {figures['recall']:.4f} "
                    f"f1 {figures['f1']:.4f} (n={figures['support']}), answers from confidence {threshold}"
                )
        state = "is active" if version.is_active else "was not promoted (the active version stays)"
        out(self.style.SUCCESS(f"{version} {state}.") if version.is_active else f"{version} {state}.")
