"""Measuring a classifier against labeled tickets: reading a CSV, and the figures of the report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportintel import csvfiles


@dataclass(frozen=True)
class LabeledTicket:
    subject: str
    body: str
    label: str


class EvaluationError(ValueError):
    pass


def parse_where(clauses: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for clause in clauses:
        if "=" not in clause:
            raise EvaluationError(f"--where needs column=value, got {clause!r}")
        column, value = clause.split("=", 1)
        pairs.append((column.strip(), value.strip()))
    return pairs


def read_labeled_csv(
    path: Path, *, text_columns: Sequence[str], label_column: str, where: Sequence[tuple[str, str]] = ()
) -> list[LabeledTicket]:
    """Rows of a labeled CSV. With one text column it is the body; with more, the first is the subject
    and the rest are joined as the body."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csvfiles.dict_reader(handle)
        columns = set(reader.fieldnames or ())
        missing = [c for c in (*text_columns, label_column, *(w[0] for w in where)) if c not in columns]
        if missing:
            raise EvaluationError(f"{path}: no column(s) {', '.join(missing)}; it has {', '.join(sorted(columns))}")
        rows = []
        for row in reader:
            if all(row[column] == value for column, value in where):
                texts = [row[c] or "" for c in text_columns]
                subject, body = ("", texts[0]) if len(texts) == 1 else (texts[0], "\n".join(texts[1:]))
                rows.append(LabeledTicket(subject=subject, body=body, label=row[label_column].strip()))
    return rows


def _per_class(labels: list[str], predictions: list[str], classes: list[str]) -> dict[str, dict[str, float]]:
    true_positive = Counter(label for label, guess in zip(labels, predictions, strict=True) if label == guess)
    predicted = Counter(predictions)
    actual = Counter(labels)
    report = {}
    for name in classes:
        precision = true_positive[name] / predicted[name] if predicted[name] else 0.0
        recall = true_positive[name] / actual[name] if actual[name] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[name] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": actual[name],
        }
    return report


def score(labels: list[str], predictions: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the classes present in the labels, per-class figures, confusion matrix."""
    if not labels:
        raise EvaluationError("no rows to evaluate")
    present = sorted(set(labels))
    classes = sorted(set(labels) | set(predictions))
    per_class = _per_class(labels, predictions, classes)
    confusion = {name: dict.fromkeys(classes, 0) for name in classes}
    for label, guess in zip(labels, predictions, strict=True):
        confusion[label][guess] += 1
    correct = sum(1 for label, guess in zip(labels, predictions, strict=True) if label == guess)
    return {
        "n": len(labels),
        "accuracy": round(correct / len(labels), 4),
        "macro_f1": round(sum(per_class[name]["f1"] for name in present) / len(present), 4),
        "per_class": per_class,
        "confusion": confusion,
    }


def evaluate(classify: Callable[[LabeledTicket], str], rows: Iterable[LabeledTicket]) -> dict[str, Any]:
    """Classify every row, time only the classifier, and score the answers."""
    return evaluate_batch(lambda batch: [classify(row) for row in batch], rows)


def evaluate_batch(
    classify: Callable[[list[LabeledTicket]], list[str]], rows: Iterable[LabeledTicket]
) -> dict[str, Any]:
    """`evaluate` for a classifier that answers many rows at once (the learned model, in chunks as the
    workers do)."""
    rows = list(rows)
    started = time.perf_counter()
    predictions = classify(rows)
    elapsed = time.perf_counter() - started
    report = score([row.label for row in rows], predictions)
    report["tickets_per_second"] = round(len(rows) / elapsed, 1) if elapsed > 0 else None
    return report


def format_report(report: dict[str, Any], title: str) -> str:
    classes = list(report["per_class"])
    width = max(12, *(len(name) for name in classes))
    lines = [
        title,
        f"n = {report['n']}   accuracy = {report['accuracy']:.4f}   macro-F1 = {report['macro_f1']:.4f}   "
        f"tickets/second = {report['tickets_per_second']}",
        "",
        f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}",
    ]
    for name, figures in report["per_class"].items():
        lines.append(
            f"{name:<{width}} {figures['precision']:>9.4f} {figures['recall']:>9.4f} {figures['f1']:>9.4f} "
            f"{figures['support']:>8}"
        )
    lines += ["", "confusion (rows: true label, columns: predicted)"]
    short = [name[:10] for name in classes]
    lines.append(f"{'':<{width}} " + " ".join(f"{s:>10}" for s in short))
    for name in classes:
        lines.append(f"{name:<{width}} " + " ".join(f"{report['confusion'][name][other]:>10}" for other in classes))
    return "\n".join(lines)
