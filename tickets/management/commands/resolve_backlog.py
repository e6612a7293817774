from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tickets import workflow
from tickets.models import ACTIVE_STATES, Ticket, WorkState


class Command(BaseCommand):
    help = (
        "Resolve open and pending tickets received before a date: after upgrading a database whose tickets predate "
        "the working state (they all start open), so the dashboard's open work is today's, not the whole history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--received-before", required=True, help="A date (YYYY-MM-DD): tickets received before it.")
        parser.add_argument("--dry-run", action="store_true", help="Count them, change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = datetime.strptime(options["received_before"], "%Y-%m-%d").date()
        except ValueError:
            raise CommandError("--received-before takes a date: YYYY-MM-DD")
        before = timezone.make_aware(datetime.combine(day, time.min))
        backlog = Ticket.objects.filter(state__in=ACTIVE_STATES, created__lt=before).order_by("pk")
        if options["dry_run"]:
            self.stdout.write(f"{backlog.count():,} open or pending tickets received before {day} would be resolved.")
            return
        resolved = 0
        # In batches: each is one transaction, with its history rows and one audit entry.
        while ids := list(backlog.values_list("pk", flat=True)[: workflow.BULK_MAX]):
            resolved += len(
                workflow.change_state(ids, WorkState.RESOLVED, actor=None, actor_name="manage.py resolve_backlog")
            )
        self.stdout.write(self.style.SUCCESS(f"Resolved {resolved:,} tickets received before {day}."))
