from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets import importing

# Rejections printed in full; the rest are counted (and all go to --rejects FILE).
SHOWN_REJECTIONS = 20


class Command(BaseCommand):
    help = (
        "Import tickets from a CSV or JSON Lines file. Every row is validated like an API request; "
        "a rejected row stops the whole import unless --skip-invalid is given, and nothing is ever half-imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A .csv file with a header row, or a .jsonl file.")
        parser.add_argument("--format", choices=importing.FORMATS, help="Override the format the file name suggests.")
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="Read FIELD from a differently named column, e.g. body=description (repeatable). "
            f"Fields: {', '.join(importing.IMPORT_FIELDS)}.",
        )
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows, report the rest.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; save nothing.")
        parser.add_argument("--rejects", type=Path, help="Write every rejected row's line and reasons as JSON Lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            columns = importing.parse_columns(options["column"])
            report = importing.import_file(
                options["file"],
                fmt=options["format"],
                columns=columns,
                skip_invalid=options["skip_invalid"],
                dry_run=options["dry_run"],
            )
        except (ValueError, importing.ImportFileError) as error:
            raise CommandError(str(error)) from error
        self._report(report, options)
        if options["rejects"] is not None:
            with options["rejects"].open("w", encoding="utf-8") as handle:
                for rejection in report.rejected:
                    handle.write(json.dumps({"line": rejection.line, "errors": rejection.errors}) + "\n")
        if report.rejected and not options["skip_invalid"]:
            # A dry run fails as the real run would, so a script can check a file before importing it.
            outcome = "a real run would import nothing" if options["dry_run"] else "nothing was imported"
            raise CommandError(
                f"{len(report.rejected)} of {report.rows} rows rejected; {outcome}. "
                "Fix them, or pass --skip-invalid to import the valid rows."
            )

    def _report(self, report: importing.ImportReport, options: dict[str, Any]) -> None:
        write = self.stdout.write
        write(f"Read {report.rows} rows: {len(report.valid)} valid, {len(report.rejected)} rejected.")
        if report.ignored_columns:
            write(f"Ignored columns: {', '.join(report.ignored_columns)}")
        for rejection in report.rejected[:SHOWN_REJECTIONS]:
            write(f"  rejected {rejection.describe()}")
        hidden = len(report.rejected) - SHOWN_REJECTIONS
        if hidden > 0:
            by_field = ", ".join(f"{name}: {n}" for name, n in report.rejected_by_field().most_common())
            write(f"  … and {hidden} more (rejections by field: {by_field})")
        if report.saved:
            write(
                self.style.SUCCESS(
                    f"Imported {report.created} tickets ({report.labeled} with their category, kept as people's "
                    "classifications), the rest enqueued for classification; "
                    f"{report.duplicates} skipped as already received (same channel and external id)."
                )
            )
        elif options["dry_run"]:
            write("Dry run: nothing was saved.")
        elif not report.valid:
            write("Nothing imported: no valid rows.")
