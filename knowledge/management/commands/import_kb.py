from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge import services
from knowledge.ingest import IngestError


class Command(BaseCommand):
    help = (
        "Import every file under DIR into the knowledge base (Markdown, text, HTML, PDF, DOCX), one article per "
        "file, each in its own transaction, with a line per file. A file imported before (same path under DIR) "
        "is updated. Exits 1 if any file failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--category", default="", help="A category slug for every article.")
        parser.add_argument("--tags", default="", help="Comma-separated tags for every article.")
        parser.add_argument("--unpublished", action="store_true", help="Import the articles unpublished.")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["directory"]
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        fields = {
            "category": options["category"],
            "tags": [tag.strip() for tag in options["tags"].split(",") if tag.strip()] or None,
            "published": not options["unpublished"],
        }
        files = sorted(p for p in directory.rglob("*") if p.is_file() and not _hidden(p, directory))
        failed = sum(not self._import(path, path.relative_to(directory).as_posix(), fields) for path in files)
        self.stdout.write(f"{len(files) - failed} imported, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} file(s) could not be imported", returncode=1)

    def _import(self, path: Path, name: str, fields: dict[str, Any]) -> bool:
        try:
            article = services.import_file(name, path.read_bytes(), replace=True, **fields)
        except (IngestError, OSError) as error:
            self.stdout.write(self.style.ERROR(f"failed  {name}: {error}"))
            return False
        self.stdout.write(f"ok      {name} -> article {article.pk} ({article.chunks.count()} chunks)")
        return True


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
