"""Create or update customers from a CSV (a header row: key, name, email, organisation, plan, vip, attributes
as JSON) or JSON Lines file. Validated row by row; nothing is written when any row is rejected."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from customers import services
from customers.api.serializers import CustomerRowSerializer


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix in (".jsonl", ".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    for row in csv.DictReader(text.splitlines()):
        values: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
        if "attributes" in values:
            with contextlib.suppress(json.JSONDecodeError):  # left as text: the serializer reports it
                values["attributes"] = json.loads(values["attributes"])
        rows.append(values)
    return rows


class Command(BaseCommand):
    help = "Create or update customers from a CSV or JSON Lines file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        try:
            rows = _rows(file)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        valid, rejected = [], []
        for number, row in enumerate(rows, start=1):
            serializer = CustomerRowSerializer(data=row)
            if serializer.is_valid():
                valid.append(serializer.validated_data)
            else:
                rejected.append(f"row {number}: {json.dumps(serializer.errors)}")
        if rejected:
            for line in rejected[:50]:
                self.stderr.write(line)
            raise CommandError(f"{len(rejected)} of {len(rows)} rows rejected; nothing imported")
        created = updated = 0
        with transaction.atomic():  # all or nothing, however many batches
            for start in range(0, len(valid), services.BULK_MAX):
                batch = valid[start : start + services.BULK_MAX]
                c, u = services.upsert_many(batch, actor_name="import_customers")
                created, updated = created + c, updated + u
        self.stdout.write(f"{created} customers created, {updated} updated")
