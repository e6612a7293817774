"""`manage.py analyze --since 2026-11-23 --until 2026-11-29 [--category billing …] [--wait | --inline]`."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis import services
from analysis.models import AnalysisRun, RunStatus, Trigger


class Command(BaseCommand):
    help = "Start an analysis run over a period (both days inclusive); the workers run it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=date.fromisoformat, help="First day (YYYY-MM-DD); default: a week ago.")
        parser.add_argument("--until", type=date.fromisoformat, help="Last day, inclusive; default: yesterday.")
        for name in services.FILTERS:
            parser.add_argument(f"--{name}", default="", help=f"Only tickets with this {name}.")
        parser.add_argument("--wait", action="store_true", help="Wait for the workers to finish the run.")
        parser.add_argument("--timeout", type=float, default=1800.0, help="Seconds --wait waits at most.")
        parser.add_argument(
            "--inline", action="store_true", help="Run every step in this process instead (no worker needed)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        first, last = services.last_week()
        filters = {name: options[name] for name in services.FILTERS if options[name]}
        try:
            run = services.start_run(
                options["since"] or first,
                options["until"] or last,
                filters,
                trigger=Trigger.COMMAND,
                publish=not options["inline"],
            )
        except services.InvalidRun as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"analysis #{run.pk}: {run.first_day}..{run.last_day} {filters or ''}")
        if options["inline"]:
            services.run_inline(run.pk)
        elif options["wait"]:
            self._wait(run, options["timeout"])
        else:
            return
        run.refresh_from_db()
        self._report(run)

    def _wait(self, run: AnalysisRun, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not run.is_finished:
            if time.monotonic() > deadline:
                raise CommandError(f"analysis #{run.pk} still {run.status} after {timeout:.0f}s")
            time.sleep(1)
            run.refresh_from_db()
            self.stdout.write(f"  {run.status}: {run.processed}/{run.total}", ending="\r")
        self.stdout.write("")

    def _report(self, run: AnalysisRun) -> None:
        if run.status != RunStatus.COMPLETED:
            raise CommandError(f"analysis #{run.pk} {run.status}: {run.error}")
        results = run.results
        self.stdout.write(
            f"completed: {results['figures']['count']} tickets, {len(results['themes'])} themes, "
            f"coverage {results['clustering'].get('coverage', 0):.0%}; summary by {run.summary['source']}"
        )
        self.stdout.write(run.summary["headline"])
        for theme in results["themes"][:10]:
            self.stdout.write(f"  {theme['id']:>3} {theme['label']:<40} {theme['count']:>6} {theme['trend']}")
