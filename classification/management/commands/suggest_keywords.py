from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from classification import rules, tuning
from classification.evaluation import EvaluationError, LabeledTicket, parse_where, read_labeled_csv
from classification.models import Category
from tickets.models import Source, Ticket

# Shown per category in the report; the output file has them all.
SHOWN_PER_CATEGORY = 15


def _rows_from_corrections() -> list[LabeledTicket]:
    tickets = Ticket.objects.filter(classification_source=Source.HUMAN).only("subject", "body", "category")
    return [LabeledTicket(subject=t.subject, body=t.body, label=t.category) for t in tickets.iterator()]


class Command(BaseCommand):
    help = (
        "Propose keyword additions and weight changes per category from labeled tickets (human corrections "
        "or labeled CSV files), with accuracy before and after on held-back rows. Writes nothing unless "
        "--output or --apply is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", type=Path, help="Labeled CSV files.")
        parser.add_argument("--from-corrections", action="store_true", help="Learn from human corrections.")
        parser.add_argument("--text-column", action="append", dest="text_columns")
        parser.add_argument("--label-column", default="label")
        parser.add_argument("--where", action="append", default=[], help="column=value row filter (repeatable)")
        parser.add_argument("--taxonomy", type=Path, help="Start from this taxonomy JSON instead of the live one.")
        parser.add_argument("--holdout", type=float, default=0.2, help="Share of rows held back (default 0.2).")
        parser.add_argument("--output", type=Path, help="Write the tuned taxonomy to this JSON file.")
        parser.add_argument("--apply", action="store_true", help="Write the tuned keywords to the live taxonomy.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = self._rows(options)
        if not rows:
            raise CommandError("no labeled tickets to learn from")
        taxonomy = rules.load_taxonomy_file(options["taxonomy"]) if options["taxonomy"] else rules.taxonomy_from_db()
        suggestion = tuning.suggest(taxonomy, rows, holdout=options["holdout"])
        self._report(suggestion)
        if options["output"]:
            options["output"].write_text(json.dumps({"categories": suggestion.taxonomy}, indent=2) + "\n")
            self.stdout.write(f"Tuned taxonomy written to {options['output']}")
        if options["apply"]:
            self._apply(suggestion.taxonomy)

    def _rows(self, options: dict[str, Any]) -> list[LabeledTicket]:
        rows = _rows_from_corrections() if options["from_corrections"] else []
        try:
            for path in options["files"]:
                rows += read_labeled_csv(
                    path,
                    text_columns=options["text_columns"] or ["text"],
                    label_column=options["label_column"],
                    where=parse_where(options["where"]),
                )
        except (OSError, EvaluationError) as exc:
            raise CommandError(str(exc)) from None
        return rows

    def _report(self, suggestion: tuning.Suggestion) -> None:
        out = self.stdout.write
        out(f"Learned from {suggestion.n_train} tickets; {suggestion.n_holdout} held back for the figures below.")
        if suggestion.skipped_labels:
            out(f"Labels not in the taxonomy were left out: {', '.join(suggestion.skipped_labels)}")
        for slug in suggestion.added:
            added, changed, removed = suggestion.added[slug], suggestion.changed[slug], suggestion.removed[slug]
            out(f"\n[{slug}] +{len(added)} keywords, {len(changed)} weight changes, {len(removed)} dropped")
            for term, weight in added[:SHOWN_PER_CATEGORY]:
                out(f"  + {term} = {weight:g}")
            for term, old, new in changed[:SHOWN_PER_CATEGORY]:
                out(f"  ~ {term}: {old:g} -> {new:g}")
        if suggestion.before:
            before, after = suggestion.before, suggestion.after
            out(
                f"\nOn {before['n']} held-back tickets: accuracy {before['accuracy']:.4f} -> {after['accuracy']:.4f}, "
                f"macro-F1 {before['macro_f1']:.4f} -> {after['macro_f1']:.4f}"
            )

    @transaction.atomic
    def _apply(self, taxonomy: list[dict[str, Any]]) -> None:
        for category in taxonomy:
            # save() (not update()) bumps `updated`, which is how workers notice the new taxonomy.
            row = Category.objects.filter(slug=category["slug"]).first()
            if row is not None:
                row.keywords = category["keywords"]
                row.save(update_fields=["keywords", "updated"])
        rules.invalidate()
        self.stdout.write(self.style.SUCCESS("Applied to the live taxonomy."))
