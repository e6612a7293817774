from __future__ import annotations

import random
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from tickets import demo, services
from tickets.models import AgentProfile, Ticket, WorkState

DEMO_USERNAME = "demo"
DEMO_TEAM = "billing"
# Colleagues for the demo login to hand tickets to (no password: nobody logs in as them).
DEMO_COLLEAGUES = [("ann", "Ann", "Okafor", "tech-support"), ("ben", "Ben", "Larsen", "accounts")]
AGENTS_GROUP = "agents"
AGENT_PERMISSIONS = [
    ("tickets", "view_ticket"),
    ("tickets", "add_ticket"),
    ("tickets", "change_ticket"),
    ("classification", "view_classification"),
    ("classification", "view_category"),
    # The knowledge base: agents upload articles from its page (issue 17).
    ("knowledge", "add_article"),
]


class Command(BaseCommand):
    help = "Fill the database with realistic demo tickets and enqueue them for classification."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=50, help="How many tickets to make (default 50).")
        parser.add_argument("--clear", action="store_true", help="Delete every ticket first.")
        parser.add_argument("--no-classify", action="store_true", help="Do not enqueue classification.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for reproducible demo data.")
        parser.add_argument("--if-empty", action="store_true", help="Make tickets only if there are none yet.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["count"] < 0:
            self.stderr.write("--count must be 0 or more")
            raise SystemExit(2)
        self._ensure_demo_login()
        self._load_knowledge_base()
        if options["clear"]:
            deleted, _ = Ticket.objects.all().delete()
            self.stdout.write(f"Deleted {deleted} rows (tickets and their history).")
        if options["if_empty"] and Ticket.objects.exists():
            self.stdout.write("Tickets already exist; not seeding (--if-empty).")
            return
        kinds = self._make_tickets(options["count"], options["seed"], classify=not options["no_classify"])
        self._report(kinds, classify=not options["no_classify"])

    def _make_tickets(self, count: int, seed: int | None, *, classify: bool) -> list[str]:
        rng = random.Random(seed)
        kinds = rng.choices(list(demo.MIX), weights=list(demo.MIX.values()), k=count)
        now = timezone.now()
        agents = list(get_user_model().objects.filter(username__in=[DEMO_USERNAME, *(c[0] for c in DEMO_COLLEAGUES)]))
        tickets = []
        for kind in kinds:
            # Spread over the last week so the dashboard's charts have a history to show.
            received = now - timedelta(minutes=rng.randint(0, 7 * 24 * 60))
            ticket = Ticket(**demo.demo_ticket(kind, rng), created=received)
            if classify:
                # Simulated history, like `created`: the demo tickets were classified moments after they
                # arrived (the worker classifies them now and keeps this first time), so the overview's time
                # to classify reads like a live system's, not like the week the demo pretends has passed.
                ticket.first_classified_at = received + timedelta(seconds=round(rng.uniform(0.3, 2.5), 2))
            # A shift in progress: older tickets are more often resolved, some wait on the customer, and
            # about half are in someone's hands.
            age_days = (now - received).days
            roll = rng.random()
            if roll < 0.08 + 0.08 * age_days:
                ticket.state = WorkState.RESOLVED
            elif roll < 0.2 + 0.08 * age_days:
                ticket.state = WorkState.PENDING
            if ticket.state != WorkState.OPEN or rng.random() < 0.4:
                ticket.assignee = rng.choice(agents) if agents else None
            if ticket.state != WorkState.OPEN:
                ticket.state_changed, ticket.state_changed_by = received + timedelta(hours=2), ticket.assignee
            tickets.append(ticket)
        with transaction.atomic():
            created = Ticket.objects.bulk_create(tickets, batch_size=500)
            if classify:
                services.enqueue_classification([t.pk for t in created])
        return kinds

    def _report(self, kinds: list[str], *, classify: bool) -> None:
        counts = {kind: kinds.count(kind) for kind in demo.MIX if kind in kinds}
        mix = ", ".join(f"{kind}: {n}" for kind, n in counts.items()) or "none"
        action = "enqueued for classification" if classify else "left queued, not enqueued"
        self.stdout.write(self.style.SUCCESS(f"Made {len(kinds)} tickets ({mix}); {action}."))

    def _load_knowledge_base(self) -> None:
        # Imported here: the seed command spans apps, while tickets itself never imports the features above it.
        from knowledge import demo as knowledge_demo

        added = knowledge_demo.load()
        self.stdout.write(f"Knowledge base: {added} demo articles added." if added else "Demo knowledge base exists.")

    def _ensure_demo_login(self) -> None:
        group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
        for app_label, codename in AGENT_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        User = get_user_model()
        for username, first, last, team in DEMO_COLLEAGUES:
            names = {"first_name": first, "last_name": last}
            colleague, made = User.objects.get_or_create(username=username, defaults=names)
            if made:
                colleague.set_unusable_password()
                colleague.save(update_fields=["password"])
                colleague.groups.add(group)
                AgentProfile.objects.get_or_create(user=colleague, defaults={"team": team})
        if User.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write(
                f"Demo login exists: user '{DEMO_USERNAME}' (password shown when it was created; "
                f"reset it with: {_manage_py()} changepassword {DEMO_USERNAME})"
            )
            return
        password = secrets.token_urlsafe(9)
        user = User.objects.create_superuser(DEMO_USERNAME, "demo@example.com", password)
        user.groups.add(group)
        AgentProfile.objects.get_or_create(user=user, defaults={"team": DEMO_TEAM})
        if settings.DEBUG:  # the embedded default: `make run` prints the login again once it is up
            _keep_demo_password(Path(settings.DEMO_PASSWORD_FILE), password)
        self.stdout.write(self.style.SUCCESS(f"Demo login created: user '{DEMO_USERNAME}', password '{password}'"))


def _keep_demo_password(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")


def _manage_py() -> str:
    """How to run manage.py the way this command was run: `.venv/bin/python manage.py` from the checkout,
    `python manage.py` in the image."""
    python = Path(sys.executable)
    if python.is_relative_to(Path.cwd()):
        return f"{python.relative_to(Path.cwd())} manage.py"
    return "python manage.py"
