from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from classification import keywords, llm, rules, services
from classification.evaluation import (
    EvaluationError,
    LabeledTicket,
    evaluate,
    evaluate_batch,
    format_report,
    parse_where,
    read_labeled_csv,
)
from classification.keywords import RuleSet
from classification.learned import runtime
from classification.learned.model import ArtifactError, TextModel, ticket_text
from classification.models import LearnedModel
from tickets.models import Ticket


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


def _chunks(rows: list[LabeledTicket]) -> list[list[LabeledTicket]]:
    size = settings.CLASSIFY_CHUNK_SIZE
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def _learned_classifier(model: TextModel):
    # In chunks, as a worker predicts: the learned model's own answer, whatever its confidence.
    def classify(rows: list[LabeledTicket]) -> list[str]:
        texts = [[ticket_text(row.subject, row.body) for row in chunk] for chunk in _chunks(rows)]
        return [category for chunk in texts for category, _ in model.predict(chunk)]

    return classify


def _chain_classifier(rows: list[LabeledTicket]) -> list[str]:
    """What the workers' chain answers, chunk by chunk: the LLM when configured and answering, else the
    learned model when confident, else the keyword rules (nothing is stored)."""
    answers = []
    for chunk in _chunks(rows):
        tickets = [Ticket(subject=row.subject, body=row.body) for row in chunk]
        chain = services._Chain()
        if not chain.calls_llm() and chain.learned is not None:
            chain.learned.prepare(tickets)
        answers += [services._run_chain(ticket, chain).category for ticket in tickets]
    return answers


class Command(BaseCommand):
    help = "Measure a classifier on a labeled CSV: accuracy, macro-F1, per-class figures, confusion, speed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--classifier",
            choices=["keyword", "llm", "learned", "chain", "both"],
            default="keyword",
            help="keyword rules, the LLM, the learned model (the active version, or --version), the chain as the "
            "workers run it, or both keyword and llm. Default: keyword.",
        )
        parser.add_argument("--model-version", type=int, help="With --classifier learned: this version.")
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
        reports = {name: self._evaluate(name, classify, rows) for name, classify in self._classifiers(options).items()}
        if options["json"]:
            single = len(reports) == 1
            self.stdout.write(json.dumps(next(iter(reports.values())) if single else reports, indent=2))
            return
        for name, report in reports.items():
            self.stdout.write(format_report(report, f"== {name} classifier on {options['file'].name} =="))
            self.stdout.write("")

    def _evaluate(self, name: str, classify: Any, rows: list[LabeledTicket]) -> dict[str, Any]:
        return evaluate_batch(classify, rows) if name in ("learned", "chain") else evaluate(classify, rows)

    def _learned_model(self, version_id: int | None) -> TextModel:
        versions = LearnedModel.objects.all()
        version = versions.filter(pk=version_id).first() if version_id else versions.filter(is_active=True).first()
        if version is None:
            raise CommandError(f"no learned model version {version_id}" if version_id else "no learned model is active")
        try:
            return runtime.read_artifact(version.artifact.name or "", version.sha256)
        except ArtifactError as exc:
            raise CommandError(f"{version}: {exc}") from None

    def _classifiers(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["classifier"] == "learned":
            return {"learned": _learned_classifier(self._learned_model(options["model_version"]))}
        if options["classifier"] == "chain":
            return {"chain": _chain_classifier}
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
