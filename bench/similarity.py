"""The classification drain with similar tickets off and on, side by side in one run: `make bench-similarity`.

    make bench-similarity                                                  # the embedded default (SQLite, atomicfs)
    make bench-similarity BENCH_DB=postgresql://… BENCH_REDIS=redis://…   # PostgreSQL and Redis

Each round drains TICKETS keyword-classified tickets (realistic text: BANKING77's questions, 500 customers) over a
background of BACKGROUND classified tickets, once with SIMILARITY_ENABLED=0 and once with 1 (each mode first in
turn); with --no-yield also once with similarity on but not yielding to the classification backlog
(SIMILARITY_YIELD_BACKLOG=0). The workers are the production layout: a classification worker (prefork -c 2, queues
classification and default) and a similarity worker (prefork -c 1, queue similarity, `nice -n 10`), both
running in both modes. Reported per mode: the classification drain (first ticket created to the last
classified, tickets/s); with similarity on, also the similarity queue's own rate (first ticket created to the
last ticket's similar tickets stored) and how long it trails the classification. Medians over the rounds, the
ratio on/off of the classification drain, written to bench/results/similarity-<database>.json.

The bench owns its database: it deletes the tickets it adds (above the background) before each round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CUSTOMERS = 500
# The warm-up: this many classification chunks, then a pause, before each drain.
WARM_UP_CHUNKS = 4
WARM_UP_SETTLE_SECONDS = 5.0


def _rows(count: int, seed: int) -> list[dict[str, Any]]:
    from bench.scale import _text, _texts

    rng, texts = random.Random(seed), _texts()
    rows = []
    for n in range(count):
        subject, body = _text(n, rng, texts)
        rows.append({"subject": subject, "body": body, "customer_email": f"c{rng.randrange(CUSTOMERS)}@example.com"})
    return rows


def _background(count: int) -> int:
    """At least `count` classified tickets to search among; returns the highest id of the background."""
    from django.db import connection
    from django.utils import timezone

    from tickets.models import Status, Ticket

    have = Ticket.objects.count()
    if have < count:
        now = timezone.now()
        Ticket.objects.bulk_create(
            [
                Ticket(
                    **row, status=Status.CLASSIFIED, category="general", priority="low", created=now, status_changed=now
                )
                for row in _rows(count - have, seed=have)
            ],
            batch_size=1000,
        )
    # Statistics for the planner, as autovacuum would have them for a table this size (PostgreSQL planned the
    # search for an empty table otherwise: a sequential scan and a sort).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket" if connection.vendor == "postgresql" else "ANALYZE")
    return Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _background_count(above: int) -> int:
    from tickets.models import Ticket

    return Ticket.objects.filter(pk__lte=above).count()


# The modes measured: similarity off; on, yielding to the classification backlog (the default); and, with
# --no-yield, on without yielding (SIMILARITY_YIELD_BACKLOG=0), which is what the drain paid before.
MODES = {
    "off": {"SIMILARITY_ENABLED": "0"},
    "on": {"SIMILARITY_ENABLED": "1"},
    "on-no-yield": {"SIMILARITY_ENABLED": "1", "SIMILARITY_YIELD_BACKLOG": "0"},
}


def _worker(name: str, queues: str, concurrency: int, mode: str, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115  # closed with the process
    command = [sys.executable, "-m", "celery", "-A", "supportintel", "worker", "-Q", queues, "--pool", "prefork"]
    command += ["-c", str(concurrency), "-n", f"bench-{name}@%h", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "-l", "warning"]
    if name == "similarity":  # the compose file's similarity worker: a lower CPU priority
        command = ["nice", "-n", "10", *command]
    env = {**os.environ, **MODES[mode]}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL"):  # keyword classification only
        env.pop(key, None)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(what: str, done: Any, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done within {timeout}s: {what}")
        time.sleep(0.05)
    return time.time()


def _counts(above: int) -> tuple[int, int]:
    """(classified, with similar tickets stored) among the tickets added above the background."""
    from incidents.models import SimilarTicket
    from tickets.models import Status, Ticket

    classified = Ticket.objects.filter(pk__gt=above, status__in=[Status.CLASSIFIED, Status.FAILED]).count()
    similar = SimilarTicket.objects.filter(ticket__gt=above).values("ticket").distinct().count()
    return classified, similar


def _similarity_done(above: int, tickets: int, timeout: float) -> float:
    """When the last ticket's similar tickets were stored: every ticket has some (the drain's own tickets share
    words), or, should one have none, when the count stopped moving (a minute: a niced worker on a busy machine
    may take seconds per chunk), the still minute taken off."""
    still, deadline = 60.0, time.monotonic() + timeout
    last, since = -1, time.time()
    while True:
        stored = _counts(above)[1]
        if stored >= tickets:
            return time.time()
        if stored != last:
            last, since = stored, time.time()
        elif time.time() - since > still and stored > 0:
            return since
        if time.monotonic() > deadline:
            raise RuntimeError(f"similarity not done within {timeout}s: {stored} of {tickets}")
        time.sleep(0.05)


def _clear(above: int) -> None:
    from django.db import DatabaseError

    from incidents.models import Incident
    from tickets.models import Ticket

    for attempt in range(5):  # a worker may still be writing the warm-up ticket's draft or links: a deadlock
        try:
            Ticket.objects.filter(pk__gt=above).delete()
            break
        except DatabaseError:
            if attempt == 4:
                raise
            time.sleep(1)
    Incident.objects.all().delete()


def drain(tickets: int, mode: str, above: int, workdir: Path, timeout: float) -> dict[str, Any]:
    from django.conf import settings

    from tickets import services

    similarity = mode != "off"
    _clear(above)
    workers = [
        _worker("classification", "classification,default", 2, mode, workdir),
        _worker("similarity", "similarity", 1, mode, workdir),
    ]
    try:
        # Warm up, the same in every mode: a chunk for each classification process classified (and, when on,
        # similar tickets found for some), then a settle, so that no mode's drain pays for a process's first
        # chunk (its models and vectors loaded) and the other's does not.
        warm = WARM_UP_CHUNKS * settings.CLASSIFY_CHUNK_SIZE
        services.create_tickets_bulk(_rows(warm, seed=-1))
        _wait("warm-up", lambda: _counts(above)[0] >= warm and (not similarity or _counts(above)[1] >= 1), 180)
        time.sleep(WARM_UP_SETTLE_SECONDS)
        _clear(above)
        rows = _rows(tickets, seed=tickets)
        started = time.time()
        services.create_tickets_bulk(rows)
        classified = _wait("classification", lambda: _counts(above)[0] >= tickets, timeout)
        figures: dict[str, Any] = {
            "similarity": mode,
            "classification_seconds": round(classified - started, 2),
            "classification_per_second": round(tickets / (classified - started), 1),
        }
        if similarity:
            at_classified = _counts(above)[1]
            stored = _similarity_done(above, tickets, timeout)
            figures.update(
                similarity_done_at_classification=at_classified,
                similarity_seconds=round(stored - started, 2),
                similarity_per_second=round(tickets / (stored - started), 1),
                similarity_trails_seconds=round(stored - classified, 2),
            )
        return figures
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 2)


def run(tickets: int, background: int, rounds: int, timeout: float, no_yield: bool) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from supportintel.celery_app import ensure_broker_folders

    call_command("migrate", verbosity=0)
    ensure_broker_folders()
    workdir = Path(os.environ["DATA_DIR"]) / "bench-similarity"
    workdir.mkdir(parents=True, exist_ok=True)
    above = _background(background)
    background_count = _background_count(above)
    modes = ["off", "on", "on-no-yield"] if no_yield else ["off", "on"]
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for round_ in range(rounds):
        for mode in modes[round_ % len(modes) :] + modes[: round_ % len(modes)]:  # each mode first in turn
            figures = drain(tickets, mode, above, workdir, timeout)
            print(f"round {round_ + 1}: {json.dumps(figures)}", flush=True)
            runs[figures["similarity"]].append(figures)
    _clear(above)
    off, on = _median(runs["off"], "classification_per_second"), _median(runs["on"], "classification_per_second")
    median: dict[str, Any] = {
        "classification_per_second_off": off,
        "classification_per_second_on": on,
        "on_over_off": round(on / off, 3),
        "similarity_per_second": _median(runs["on"], "similarity_per_second"),
        "similarity_trails_seconds": _median(runs["on"], "similarity_trails_seconds"),
    }
    if no_yield:
        unyielding = _median(runs["on-no-yield"], "classification_per_second")
        median.update(
            classification_per_second_on_no_yield=unyielding,
            on_no_yield_over_off=round(unyielding / off, 3),
            similarity_per_second_no_yield=_median(runs["on-no-yield"], "similarity_per_second"),
            similarity_trails_seconds_no_yield=_median(runs["on-no-yield"], "similarity_trails_seconds"),
        )
    return {
        "database": connection.vendor,
        "broker": os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "atomicfs://",
        "tickets_per_drain": tickets,
        "background_tickets": background_count,
        "background_max_id": above,
        "rounds": rounds,
        "workers": "classification: prefork -c 2 (classification,default); similarity: nice -n 10, prefork -c 1",
        "similarity_yield": {
            "backlog": settings.SIMILARITY_YIELD_BACKLOG,
            "step_seconds": settings.SIMILARITY_YIELD_STEP_SECONDS,
            "max_seconds": settings.SIMILARITY_YIELD_MAX_SECONDS,
        },
        "median": median,
        "runs": runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "measured": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000, help="tickets per drain")
    parser.add_argument("--background", type=int, default=20000, help="classified tickets already there")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-yield", action="store_true", help="also measure similarity on without yielding")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    result = run(args.tickets, args.background, args.rounds, args.timeout, args.no_yield)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"similarity-{result['database']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))  # the bench's report
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
