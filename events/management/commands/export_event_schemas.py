"""Write each event type's JSON Schema to a folder (docs/events/ in the repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from events import schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write the JSON Schema of every webhook event type to FOLDER (default docs/events)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", nargs="?", default="docs/events")

    def handle(self, *args: Any, folder: str, **options: Any) -> None:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        for event_type, schema in schemas.all_schemas().items():
            (target / f"{event_type}.schema.json").write_text(render(schema))
        self.stdout.write(f"{len(schemas.all_schemas())} schemas written to {target}")
