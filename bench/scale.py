"""Dashboard and API latency at a million tickets: `make bench-scale`.

Runs on its own SQLite file (`SQLITE_PATH`, set by the Makefile target) or on a dedicated PostgreSQL
database (`BENCH_DB`), never on the product's own database. The rows are inserted once (raw
executemany, a few minutes) and reused by later runs. Each page is requested REPEATS times through
Django's test client; the median is reported, and the results go to bench/results/scale-<database>.json.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
ROWS = int(os.environ.get("BENCH_SCALE_ROWS", "1000000"))
REPEATS = 7
# Rows inserted per executemany call: big enough to be fast, small enough to keep memory flat.
CHUNK = 50_000

PAGES = [
    ("overview", "/"),
    ("overview, 30 days", "/?range=30d"),
    ("stats fragment", "/stats/"),
    ("charts fragment", "/charts/"),
    ("ticket list", "/tickets/"),
    ("list, every state", "/tickets/?state="),
    ("list, mine", "/tickets/?assignee=me"),
    ("list, overdue by due time", "/tickets/?due=overdue&sort=due"),
    ("list, customer search", "/tickets/?search=okafor"),
    ("new arrivals poll", "/tickets/arrivals/?after=1"),
    ("list, category filter", "/tickets/?category=billing"),
    ("list, two filters + risk sort", "/tickets/?priority=high&sentiment=negative&sort=risk"),
    ("list, page 50", "/tickets/?page=50"),
    ("list, full-text search", "/tickets/?search=refund"),
    ("list, rare-word search", "/tickets/?search=zzqxj"),
    ("needs review", "/review/"),
    ("failed", "/failed/"),
    ("CSV export, mine (streamed)", "/tickets/export.csv?assignee=me"),
    ("API list", "/api/v1/tickets/"),
    ("API list, filtered", "/api/v1/tickets/?category=account&min_risk=0.5"),
    ("API stats", "/api/v1/stats/"),
    ("metrics", "/metrics"),
]

_CATEGORIES = [
    ("technical", "tech-support"),
    ("billing", "billing"),
    ("account", "accounts"),
    ("feature_request", "product"),
    ("bug_report", "engineering"),
    ("general", "frontline"),
]
_CUSTOMERS = ["Maya Okafor", "Sam Rossi", "Ines Larsen", "Noah Tanaka", "Grace Haddad", "", ""]

# Realistic text: BANKING77's 13,000 customer questions (../shared/data) as bodies, their intent as the subject,
# with an order number or error code in some, so the similar-ticket search sees a real vocabulary (common words
# matching much of the table, rare ones few rows) rather than one repeated sentence.
BANKING77 = ROOT.parent / "shared" / "data" / "banking77_support_queries.csv"
_FALLBACK_TEXTS = [
    ("card arrival", "I am still waiting on my card, it has not arrived after two weeks."),
    ("refund not showing up", "The refund for my order has not appeared on my statement yet."),
    ("pin blocked", "My PIN is blocked after three wrong attempts, how do I unblock it?"),
    ("transfer failed", "My transfer to another account failed with an error, what went wrong?"),
    ("charged twice", "I was charged twice for the same purchase, please refund the duplicate."),
]


def _texts() -> list[tuple[str, str]]:
    if not BANKING77.exists():
        return _FALLBACK_TEXTS
    import csv

    with BANKING77.open(newline="", encoding="utf-8") as handle:
        return [(row["intent"].replace("_", " "), row["text"]) for row in csv.DictReader(handle)]


def _text(index: int, rng: random.Random, texts: list[tuple[str, str]]) -> tuple[str, str]:
    subject, body = rng.choice(texts)
    extra = rng.random()
    if extra < 0.2:
        body = f"{body} Order #{rng.randint(10_000, 999_999)}."
    elif extra < 0.3:
        body = f"{body} The app shows error E{rng.randint(100, 999)}."
    return subject.capitalize(), body


def _rows(count: int, start: int, rng: random.Random, now: datetime, agent_id: int) -> list[dict[str, Any]]:
    rows = []
    texts = _texts()
    for index in range(start, start + count):
        subject, body = _text(index, rng, texts)
        category, team = rng.choice(_CATEGORIES)
        created = now - timedelta(seconds=rng.randint(0, 90 * 24 * 3600))
        status = "failed" if index % 5000 == 0 else "queued" if index % 2000 == 1 else "classified"
        classified = status == "classified"
        # A helpdesk's million: almost everything older than three days is resolved, a few tickets wait on
        # the customer, and about a third of the open ones are in someone's hands.
        age = now - created
        state = (
            "resolved"
            if age > timedelta(days=3) and rng.random() < 0.97
            else "pending"
            if rng.random() < 0.1
            else "open"
        )
        source = rng.choice(["llm", "llm", "llm", "keyword", "human"]) if classified else ""
        row = {
            "subject": subject,
            "body": body,
            "channel": "api",
            "customer_email": "",
            "customer_id": "",
            "declared_priority": "",
            "external_id": "",
            "status": status,
            "status_changed": created,
            "attempts": 1,
            "last_error": "boom" if status == "failed" else "",
            "claimed_by": "",
            "unpublished": False,
            "category": "",
            "priority": "",
            "sentiment": "",
            "risk": None,
            "team": "",
            "confidence": None,
            "classification_source": source,
            "fallback_reason": "breaker_open" if source == "keyword" else "",
            "summary": "",
            # JSON columns as text (raw executemany): both databases take it for their JSON type.
            "options": "{}",
            "missing_info": "[]",
            "likely_duplicate_of_id": None,
            "duplicate_of_id": None,
            "classified_at": None,
            "first_classified_at": None,
            "due_at": None,
            "state": state,
            "state_changed": created + timedelta(hours=5) if state != "open" else None,
            "state_changed_by_id": None,
            "resolved_by": "specialist"
            if state == "resolved" and rng.random() < 0.2
            else "human"
            if state == "resolved"
            else "",
            "assignee_id": agent_id if state != "resolved" and rng.random() < 0.33 else None,
            "customer_name": rng.choice(_CUSTOMERS),
            "created": created,
            "updated": created,
        }
        if classified:
            row.update(
                category=category,
                team=team,
                priority=rng.choice(["critical", "high", "medium", "low"]),
                sentiment=rng.choice(["negative", "neutral", "positive"]),
                risk=round(rng.random(), 3),
                confidence=round(rng.random(), 3),
                classified_at=created,
                first_classified_at=created + timedelta(seconds=1),
                due_at=created + timedelta(hours=24),
            )
        rows.append(row)
    return rows


# One history row per classified ticket, copied from the ticket's current fields; LLM rows get a latency.
_HISTORY_COLUMNS = {
    "ticket_id": "id",
    "source": "classification_source",
    "category": "category",
    "priority": "priority",
    "sentiment": "sentiment",
    "risk": "risk",
    "summary": "''",
    "suggested_reply": "''",
    "team": "team",
    "entities": "'{}'",
    "confidence": "confidence",
    "matched_keywords": "'[]'",
    "explanation": "'{}'",
    "fallback_reason": "fallback_reason",
    "fallback_detail": "''",
    "model_name": "''",
    "prompt_version": "''",
    "latency_ms": "CASE WHEN classification_source = 'llm' THEN 200 + id % 1800 END",
    # A human row replaced the automatic answer of the same category (a confirmation) in 9 of 10 cases.
    # The richer answer's fields (classification 0007).
    "secondary_categories": "'[]'",
    "urgency_indicators": "'[]'",
    "reasoning": "''",
    "routing_alternatives": "'[]'",
    "missing_info": "'[]'",
    "reply_tone": "''",
    "replaced_category": "CASE WHEN classification_source = 'human' AND id % 10 > 0 THEN category ELSE '' END",
    "created": "created",
}


def _fill_history() -> None:
    from django.db import connection, transaction

    from classification.models import Classification

    if Classification.objects.exists():
        return
    table = Classification._meta.db_table
    sql = (
        f"INSERT INTO {table} ({', '.join(_HISTORY_COLUMNS)}) "
        f"SELECT {', '.join(_HISTORY_COLUMNS.values())} FROM tickets_ticket WHERE status = 'classified'"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else f"VACUUM ANALYZE {table}")
    print(f"inserted {Classification.objects.count()} history rows in {time.perf_counter() - started:.0f}s")


def _secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    """The ticket table's indexes that back no constraint: (name, definition)."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'tickets_ticket' AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || "
        "quote_ident(i.indexname))::regclass)"
    )
    return list(cursor.fetchall())


def _copy(count: int, have: int, agent_id: int, columns: list[str]) -> None:
    """PostgreSQL: COPY in chunks, with the secondary indexes dropped first and built again once at the end
    (building a GIN index over a million rows is many times faster than growing it a row at a time)."""
    from django.db import connection

    rng = random.Random(1)
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        raw = cursor.cursor  # psycopg's own cursor, for COPY (each chunk commits: autocommit)
        copy_sql = f"COPY tickets_ticket ({', '.join(columns)}) FROM STDIN"
        try:
            for start in range(have, count, CHUNK):
                rows = _rows(min(CHUNK, count - start), start, rng, now, agent_id)
                with raw.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(tuple(row[column] for column in columns))
                print(f"  {start + len(rows)} tickets", flush=True)
        finally:  # interrupted or not, the indexes come back
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for name, definition in indexes:
                started = time.perf_counter()
                cursor.execute(definition)
                print(f"  index {name} built in {time.perf_counter() - started:.0f}s", flush=True)


def _fill(count: int, agent_id: int) -> None:
    from django.db import connection, transaction

    from tickets.models import Ticket

    have = Ticket.objects.count()
    if have >= count:
        print(f"{have} tickets already there")
        _fill_history()
        return
    columns = [str(field.column) for field in Ticket._meta.concrete_fields if not field.primary_key]
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        _copy(count, have, agent_id, columns)
    else:
        sql = f"INSERT INTO tickets_ticket ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        rng = random.Random(1)
        now = datetime.now(UTC)
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(have, count, CHUNK):
                rows = _rows(min(CHUNK, count - start), start, rng, now, agent_id)
                cursor.executemany(sql, [tuple(row[column] for column in columns) for row in rows])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE tickets_ticket")
    print(f"inserted {count - have} tickets in {time.perf_counter() - started:.0f}s")
    _fill_history()


def _measure(client: Any, url: str) -> dict[str, Any]:
    from django.core.cache import cache

    samples = []
    for _ in range(REPEATS):
        cache.clear()  # every request computes its figures: the overview's shared cache would hide their cost
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:  # the CSV export: the time is the whole stream's
            b"".join(response.streaming_content)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


# Similar tickets (issue 16): lookups for this many tickets spread over the table, each through the API (none
# stored yet: found on demand, the text search's candidates re-ranked) and as the worker computes them.
SIMILAR_LOOKUPS = 100
# BENCH_SCALE_SIMILAR_ONLY=1: the similar-ticket lookups alone (the pages take minutes at a million tickets).
SIMILAR_ONLY = os.environ.get("BENCH_SCALE_SIMILAR_ONLY", "") == "1"


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)


def _measure_similar(client: Any) -> dict[str, Any]:
    from django.conf import settings

    from incidents import services
    from search import backends
    from tickets.models import Ticket

    top = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rng = random.Random(7)
    ids = [rng.randint(1, top) for _ in range(SIMILAR_LOOKUPS)]
    tickets = {t.pk: t for t in Ticket.objects.filter(pk__in=ids)}
    api, worker, worker_cpu, search = [], [], [], []
    for pk in tickets:
        started = time.perf_counter()
        response = client.get(f"/api/v1/tickets/{pk}/similar/")
        api.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (pk, response.status_code)
        started, cpu = time.perf_counter(), time.process_time()
        services.find_similar(tickets[pk])
        worker.append((time.perf_counter() - started) * 1000)
        # This process's CPU for it (the re-ranking, the ORM): what a shared machine's waits do not inflate.
        worker_cpu.append((time.process_time() - cpu) * 1000)
        # Of which the text search (the rest is the re-ranking, the row load and the API's own work).
        started = time.perf_counter()
        ticket = tickets[pk]
        backends.candidates(ticket.subject, ticket.body, limit=settings.SIMILAR_CANDIDATES, exclude=pk)
        search.append((time.perf_counter() - started) * 1000)
    return {
        name: {"median_ms": round(statistics.median(samples), 1), "p95_ms": _percentile(samples, 0.95)}
        | {"lookups": len(samples)}
        for name, samples in (
            ("API similar (on demand)", api),
            ("worker find_similar", worker),
            ("  of which this process's CPU", worker_cpu),
            ("  of which text search", search),
        )
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    # Staff: /metrics answers a staff session (or the bearer token). A third of the open tickets are theirs.
    user, _ = get_user_model().objects.update_or_create(
        username="bench-scale", defaults={"is_superuser": True, "is_staff": True}
    )
    _fill(ROWS, user.pk)
    client = Client()
    client.force_login(user)
    figures: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": connection.vendor,
        "tickets": ROWS,
        "repeats": REPEATS,
        "pages": {} if SIMILAR_ONLY else {name: _measure(client, url) | {"url": url} for name, url in PAGES},
        "similar": _measure_similar(client),
        "load_average": os.getloadavg(),
    }
    suffix = "-similar" if SIMILAR_ONLY else ""
    results = RESULTS_DIR / f"scale-{connection.vendor}{suffix}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(len(name) for name, _ in PAGES)
    print(f"{ROWS} tickets, load average {figures['load_average'][0]:.1f}")
    for name, result in figures["pages"].items():
        print(f"{name:<{width}}  median {result['median_ms']:>8.1f} ms   max {result['max_ms']:>8.1f} ms")
    for name, result in figures["similar"].items():
        print(f"{name:<{width}}  median {result['median_ms']:>8.1f} ms   p95 {result['p95_ms']:>8.1f} ms")
    print(f"written to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
