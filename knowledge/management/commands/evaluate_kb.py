from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge import demo, evaluation
from knowledge.models import Article


class Command(BaseCommand):
    help = (
        "Measure the knowledge base's retrieval on a labeled set (default knowledge/eval/tickets.json): recall@1, "
        "@3, @5 and MRR of exactly what the product runs. --weight W (repeatable) adds the same search with "
        "another semantic weight, side by side. Needs the set's articles in the database (--load-demo adds the "
        "demo ones)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, default=evaluation.DEFAULT_SET)
        parser.add_argument("--weight", type=float, action="append", default=[], help="Also measure this weight.")
        parser.add_argument(
            "--vectors",
            type=int,
            action="append",
            default=[],
            help="With each --weight, also this many vector candidates.",
        )
        parser.add_argument("--load-demo", action="store_true", help="Load the demo articles first.")
        parser.add_argument("--misses", action="store_true", help="List the tickets ranked worse than 3.")
        parser.add_argument("--json", type=Path, help="Write the figures to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pairs = evaluation.load(options["file"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["load_demo"]:
            demo.load()
        wanted = {p.article for p in pairs}
        published = Article.objects.filter(source_name__in=wanted, published=True)
        present = set(published.values_list("source_name", flat=True))
        if absent := sorted(wanted - present):
            raise CommandError(f"{len(absent)} labeled article(s) not in the knowledge base, e.g. {absent[0]}")
        vector_counts = options["vectors"] or [0]
        extra = [evaluation.with_weight(pairs, w, n) for w in options["weight"] for n in vector_counts]
        results = [evaluation.product(pairs), *extra]
        self.stdout.write(f"{len(pairs)} tickets, {len(wanted)} articles")
        for figures in results:
            line = "  ".join(f"{key} {value}" for key, value in figures.as_dict().items() if key != "label")
            self.stdout.write(f"{figures.label}: {line}")
            if options["misses"]:
                for pair_id, found in figures.misses:
                    self.stdout.write(f"  miss: ticket {pair_id} -> {found}")
        if options["json"]:
            options["json"].write_text(json.dumps([f.as_dict() for f in results], indent=2) + "\n")
