from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classification import keywords, llm, rules, services
from classification.evaluation import (
    EvaluationError,
    LabeledTicket,
    evaluate,
    format_report,
    parse_where,
    read_labeled_csv,
)
from classification.keywords import RuleSet


def _keyword_classifier(rule_set: RuleSet):
    def classify(row: LabeledTicket) -> str:
        return keywords.classify(rule_set, row.subject, row.body).category

    return classify


def _llm_classifier(row: LabeledTicket) -> str:
    # A failed call is a wrong answer, not a crash: the report says how often the LLM got it right.
    try:
        return services.llm_category(row.subject, row.body)
    except llm.LLMError:
        return "(llm error)"


class Command(BaseCommand):
    help = "Measure a classifier on a labeled CSV: accuracy, macro-F1, per-class figures, confusion, speed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--classifier", choices=["keyword", "llm", "both"], default="keyword")
        parser.add_argument(
            "--text-column",
            action="append",
            dest="text_columns",
            help="Text column(s); one is the body, several are joined as subject and body. Default: text.",
        )
        parser.add_argument("--label-column", default="label")
        parser.add_argument("--where", action="append", default=[], help="column=value row filter (repeatable)")
        parser.add_argument("--taxonomy", type=Path, help="Taxonomy JSON to use instead of the live one.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = read_labeled_csv(
                options["file"],
                text_columns=options["text_columns"] or ["text"],
                label_column=options["label_column"],
                where=parse_where(options["where"]),
            )
        except (OSError, EvaluationError) as exc:
            raise CommandError(str(exc)) from None
        if not rows:
            raise CommandError("no rows match")
        reports = {name: evaluate(classify, rows) for name, classify in self._classifiers(options).items()}
        if options["json"]:
            single = len(reports) == 1
            self.stdout.write(json.dumps(next(iter(reports.values())) if single else reports, indent=2))
            return
        for name, report in reports.items():
            self.stdout.write(format_report(report, f"== {name} classifier on {options['file'].name} =="))
            self.stdout.write("")

    def _classifiers(self, options: dict[str, Any]) -> dict[str, Any]:
        chosen = ["keyword", "llm"] if options["classifier"] == "both" else [options["classifier"]]
        classifiers = {}
        if "keyword" in chosen:
            if options["taxonomy"]:
                rule_set = rules.rules_from_taxonomy(rules.load_taxonomy_file(options["taxonomy"]))
            else:
                rule_set = rules.current_rules()
            classifiers["keyword"] = _keyword_classifier(rule_set)
        if "llm" in chosen:
            if not services.llm_configured():
                raise CommandError("no LLM is configured: set OPENAI_BASE_URL or OPENAI_API_KEY")
            classifiers["llm"] = _llm_classifier
        return classifiers
