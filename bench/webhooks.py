"""Events out at volume: 1,000 tickets classified by a real Celery worker (threads pool, with beat: the
relay), each ticket.classified event delivered to one subscription on a real local receiver that verifies
every signature. Reports delivery throughput and lag (from the classification's commit to the receiver).

    make bench-webhooks                                   # the embedded default (SQLite, atomicfs broker)
    make bench-webhooks BENCH_DB=postgresql://… BENCH_REDIS=redis://…   # PostgreSQL and Redis

The bench owns its database: it empties tickets, events, subscriptions and customers first.
Results: bench/results/webhooks-<database>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 3),
        "p95": round(_percentile(samples, 0.95), 3),
        "max": round(max(samples), 3),
    }


def _start_worker(concurrency: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / "worker.log", "wb")  # noqa: SIM115  # closed with the process
    command = [sys.executable, "-m", "celery", "-A", "supportintel", "worker", "-B", "-s", str(workdir / "schedule")]
    command += ["-Q", "classification,default,events", "--pool", "threads", "-c", str(concurrency)]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)


def _reset() -> None:
    from customers.models import Customer
    from events.models import Event, WebhookSubscription
    from tickets.models import Ticket

    WebhookSubscription.objects.all().delete()
    Event.objects.all().delete()
    Ticket.objects.all().delete()
    Customer.objects.all().delete()


def run(tickets: int, concurrency: int, timeout: float) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from events.fake_receiver import FakeReceiver
    from events.models import Delivery, DeliveryStatus, Event, EventType, WebhookSubscription
    from supportintel.celery_app import ensure_broker_folders
    from tickets import services
    from workers.models import WorkerHeartbeat

    call_command("migrate", verbosity=0)
    _reset()
    ensure_broker_folders()
    workdir = Path(os.environ["DATA_DIR"]) / "bench-webhooks"
    workdir.mkdir(parents=True, exist_ok=True)
    receiver = FakeReceiver(secret="whsec_bench_secret_0123456789").start()
    WebhookSubscription.objects.create(
        name="bench", url=receiver.url, events=[EventType.TICKET_CLASSIFIED], secret=receiver.secret
    )
    worker = _start_worker(concurrency, workdir)
    try:
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        rows = [
            {
                "subject": f"Order {n} charged twice",
                "body": "Please refund the duplicate charge.",
                "customer_id": f"c{n % 50}",
            }
            for n in range(tickets)
        ]
        started = time.time()
        services.create_tickets_bulk(rows)
        deadline = time.monotonic() + timeout
        while len(set(r.event["id"] for r in receiver.accepted())) < tickets and time.monotonic() < deadline:
            time.sleep(0.2)
        finished = time.time()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        receiver.stop()
    accepted = receiver.accepted()
    first_by_id: dict[str, float] = {}
    for r in accepted:
        first_by_id.setdefault(r.event["id"], r.received_at)
    created = {
        str(pk): ts.timestamp()
        for pk, ts in Event.objects.filter(type=EventType.TICKET_CLASSIFIED).values_list("pk", "created")
    }
    lags = [first_by_id[i] - created[i] for i in first_by_id if i in created]
    delivered = sorted(first_by_id.values())
    classified_span = [ts for ts in created.values()]
    return {
        "database": connection.vendor,
        "broker": os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "atomicfs://",
        "tickets": tickets,
        "worker": f"threads pool, -c {concurrency}, beat (relay every {settings.EVENTS_RELAY_INTERVAL_SECONDS:g} s)",
        "events_delivered": len(first_by_id),
        "requests_received": len(receiver.received),
        "duplicates": len(accepted) - len(first_by_id),
        "signatures_ok": all(r.signature_ok for r in receiver.received),
        "deliveries_succeeded": Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count(),
        "end_to_end_seconds": round(finished - started, 2),
        "classification_seconds": round(max(classified_span) - started, 2) if classified_span else None,
        "delivery_throughput_per_second": round(len(delivered) / max(delivered[-1] - delivered[0], 1e-9), 1)
        if len(delivered) > 1
        else None,
        "lag_seconds": _stats(lags) if lags else None,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    result = run(args.tickets, args.concurrency, args.timeout)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"webhooks-{result['database']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))  # the bench's report


if __name__ == "__main__":
    main()
