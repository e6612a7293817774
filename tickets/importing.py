"""Import tickets from a CSV or JSON Lines file (`manage.py import_tickets`).

Every row is validated by the same rules as the API. The import is one transaction: either every
accepted row is saved or none is, and classification is enqueued only once it has committed.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from classification import services as classification_services
from classification.models import Category
from supportintel import csvfiles
from tickets import services
from tickets.api.serializers import TicketCreateSerializer
from tickets.models import INPUT_FIELDS, Ticket

FORMATS = ("csv", "jsonl")
# The fields a row may carry: what the API takes, when the ticket was received, and the category a person
# gave it (a labeled export from another helpdesk: it becomes a human classification, and training data).
IMPORT_FIELDS = (*INPUT_FIELDS, "created", "category")
# Rows saved per INSERT batch inside the one import transaction.
CHUNK_SIZE = 1000


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing, wrong format, no header)."""


class TicketImportSerializer(TicketCreateSerializer):
    created = serializers.DateTimeField(required=False, help_text="When the ticket was received (ISO 8601).")
    category = serializers.CharField(required=False, help_text="Its category, given by a person (a slug).")

    class Meta(TicketCreateSerializer.Meta):
        fields = list(IMPORT_FIELDS)

    def validate_category(self, value: str) -> str:
        if value not in self.context["categories"]:
            raise serializers.ValidationError(f"{value!r} is not an active category.")
        return value

    def validate_created(self, value: Any) -> Any:
        if value > timezone.now():
            raise serializers.ValidationError("A ticket cannot be received in the future.")
        return value


@dataclass
class Rejection:
    line: int
    errors: dict[str, list[str]]

    def describe(self) -> str:
        reasons = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())
        return f"line {self.line}: {reasons}"


@dataclass
class ImportReport:
    rows: int = 0
    valid: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    created: int = 0
    labeled: int = 0
    duplicates: int = 0
    saved: bool = False

    def rejected_by_field(self) -> Counter[str]:
        return Counter(name for rejection in self.rejected for name in rejection.errors)


def detect_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    raise ImportFileError(f"Cannot tell the format of {path.name}; name it .csv or .jsonl, or pass --format.")


# One row of the file: its line number, its fields by column name, and why it cannot be read, if so.
Record = tuple[int, dict[str, Any], str | None]


def _csv_records(handle: TextIO) -> Iterator[Record]:
    reader = csvfiles.dict_reader(handle)
    if not reader.fieldnames:
        raise ImportFileError("The CSV file has no header row.")
    start = reader.line_num + 1
    for record in reader:
        # DictReader files values beyond the header under the key None.
        problem = "more values than the header has columns" if None in record else None
        yield start, record, problem
        start = reader.line_num + 1


def _jsonl_records(handle: TextIO) -> Iterator[Record]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, {}, f"not valid JSON ({error.msg})"
            continue
        except RecursionError:
            yield number, {}, "not valid JSON (arrays or objects nested too deeply)"
            continue
        if isinstance(record, dict):
            yield number, record, None
        else:
            yield number, {}, "not a JSON object"


def read_records(path: Path, fmt: str) -> Iterator[Record]:
    """Every row of the file, in order."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from _csv_records(handle) if fmt == "csv" else _jsonl_records(handle)
    except FileNotFoundError as error:
        raise ImportFileError(f"No such file: {path}") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise ImportFileError(f"Cannot read {path.name}: {error}") from error


def _row_data(record: Mapping[Any, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """The ticket fields of one record under their own names; empty cells count as absent."""
    data: dict[str, Any] = {}
    for name in IMPORT_FIELDS:
        value = record.get(columns.get(name, name))
        if value is not None and value != "":
            data[name] = value
    return data


def validate(records: Iterator[Record], columns: Mapping[str, str]) -> ImportReport:
    report = ImportReport()
    known = {columns.get(name, name) for name in IMPORT_FIELDS}
    ignored: dict[str, None] = {}
    context = {"categories": set(Category.objects.filter(active=True).values_list("slug", flat=True))}
    for line, record, problem in records:
        report.rows += 1
        if problem is not None:
            report.rejected.append(Rejection(line, {"row": [problem]}))
            continue
        ignored.update((name, None) for name in record if name not in known)
        serializer = TicketImportSerializer(data=_row_data(record, columns), context=context)
        if serializer.is_valid():
            report.valid.append(dict(serializer.validated_data))
        else:
            errors = {name: [str(message) for message in messages] for name, messages in serializer.errors.items()}
            report.rejected.append(Rejection(line, errors))
    report.ignored_columns = list(ignored)
    return report


def _labels(rows: list[dict[str, Any]], created: list[Ticket]) -> dict[str, list[int]]:
    """Created ticket ids per category given in their rows. `created` follows the rows' order, less the
    duplicates, so each ticket is the next row with its text."""
    by_category: dict[str, list[int]] = {}
    remaining = iter(rows)
    for ticket in created:
        row = next(r for r in remaining if (r.get("subject", ""), r.get("body", "")) == (ticket.subject, ticket.body))
        if row.get("category"):
            by_category.setdefault(row["category"], []).append(ticket.pk)
    return by_category


@transaction.atomic
def save(report: ImportReport, *, chunk_size: int = CHUNK_SIZE) -> None:
    """Save the valid rows, all in one transaction; classification is enqueued when it commits. A row's
    category is stored as a human classification in the same transaction, so the worker keeps it."""
    for start in range(0, len(report.valid), chunk_size):
        rows = report.valid[start : start + chunk_size]
        created, _ = services.create_tickets_bulk(rows)
        report.created += len(created)
        for category, ids in _labels(rows, created).items():
            report.labeled += len(classification_services.record_corrections(ids, None, {"category": category}))
    # Rows whose (channel, external id) was received before, or earlier in the same file.
    report.duplicates = len(report.valid) - report.created
    report.saved = True


def import_file(
    path: Path,
    *,
    fmt: str | None = None,
    columns: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Read, validate and (unless a row was rejected, or told not to) save the tickets of one file."""
    report = validate(read_records(path, detect_format(path, fmt)), columns or {})
    if not dry_run and report.valid and (skip_invalid or not report.rejected):
        save(report)
    return report


def parse_columns(pairs: Sequence[str]) -> dict[str, str]:
    """`FIELD=COLUMN` pairs: read a ticket field from a differently named column."""
    columns: dict[str, str] = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep or not column or name not in IMPORT_FIELDS:
            raise ValueError(f"{pair!r}: expected FIELD=COLUMN with FIELD one of {', '.join(IMPORT_FIELDS)}")
        columns[name] = column
    return columns
