from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from knowledge import gaps


class Command(BaseCommand):
    help = (
        "Score every ticket of the last DAYS days against the knowledge base (those not scored yet, or scored "
        "before the last article write), then print the content-gap report by category."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        until = timezone.now()
        since = until - timedelta(days=options["days"])
        total = 0
        while True:
            scored, pending = gaps.refresh(since, until)
            total += scored
            if not pending or not scored:
                break
        found = gaps.report(since, until)
        self.stdout.write(f"{total} tickets scored; {found.gaps} of {found.scored} are gaps (< {found.threshold}).")
        for group in found.categories:
            self.stdout.write(f"{group.category or 'unclassified'}: {group.gaps} of {group.scored}")
            for ticket in group.tickets:
                self.stdout.write(f"  #{ticket.id} {ticket.similarity:.2f} {ticket.subject[:70]}")
