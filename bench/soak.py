"""Soak: `make run`'s stack under a steady stream of tickets for a long time (`make bench-soak`).

Starts what `make run` starts — migrate, seed, then the launcher with the web server, a Celery worker with
beat and (unless --no-llm) the fake LLM server — on a DATA_DIR of its own, posts tickets through the API at
a steady rate, then waits for the backlog to drain and reports: tickets sent, accepted (202), classified,
failed, lost (accepted but never classified or failed), POST errors, how long classification took, and
how often a process died (the launcher's restart lines) or the worker hit an `Unrecoverable error`.
Writes bench/results/soak-<when>.json and stops the stack (Ctrl-C stops it, without results).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# After the last ticket, how long the backlog may take to drain. Covers the stale-ticket sweep
# (QUEUED_STALE_SECONDS=300), which re-publishes what a dead worker held.
DRAIN_SECONDS = 420
PROGRESS_EVERY_SECONDS = 60
BODIES = [
    ("Charged twice", "I was charged $49.99 twice for order #88123. Please refund the duplicate."),
    ("Cannot log in", "Since the update I cannot log in, the password reset email never arrives."),
    ("App crashes", "The app crashes with error E1234 every time I open the reports page. Urgent!"),
    ("Feature request", "It would be great to export tickets to CSV from the dashboard."),
    ("Shipping question", "Do you ship to Canada, and how long does delivery take?"),
    ("Outage", "Your service is down for our whole team since 9am, we are losing money."),
]


def _stack_env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATA_DIR=str(data_dir), DEBUG="1", ENV_FILE="", PYTHONUNBUFFERED="1")
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _start_stack(args: argparse.Namespace, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """What `make run` does after installing: migrate, seed, the launcher."""
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed", "--if-empty", "--count", "60")
    command = [sys.executable, "-m", "supportintel.run_local", "--host", args.host, "--port", str(args.port)]
    command += ["--llm", "" if args.no_llm else "fake", "--fake-llm-port", str(args.fake_llm_port)]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_up(base: str, launcher: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise SystemExit(f"the launcher exited with code {launcher.returncode} before the server answered")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the web server did not answer within 2 minutes")


def _post(base: str, token: str, number: int, run_id: str) -> tuple[int, float, int | None]:
    """POST one ticket; (status or 0 for no answer, milliseconds, ticket id)."""
    subject, body = BODIES[number % len(BODIES)]
    payload = {"subject": subject, "body": f"{body} (#{number})", "channel": "api", "external_id": f"{run_id}-{number}"}
    request = urllib.request.Request(
        f"{base}/api/v1/tickets/",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, ticket_id = response.status, json.loads(response.read())["id"]
    except urllib.error.HTTPError as exc:
        status, ticket_id = exc.code, None
    except OSError:
        status, ticket_id = 0, None
    return status, (time.perf_counter() - started) * 1000, ticket_id


def _log_events(log: Path) -> dict[str, int]:
    text = log.read_text(errors="replace")
    return {
        "worker_unrecoverable_errors": text.count("Unrecoverable error"),
        "process_exits": len(re.findall(r"run_local \w.* exited with code", text)),
        "restarts": len(re.findall(r"run_local .* restarted \(pid", text)),
        "tracebacks": text.count("Traceback (most recent call last)"),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def _sent_tickets(run_id: str) -> Any:
    from tickets.models import Ticket

    return Ticket.objects.filter(external_id__startswith=f"{run_id}-")


def _outcome(run_id: str) -> dict[str, Any]:
    """Where the accepted tickets ended, read from the stack's database."""
    from django.db.models import Count

    from tickets.models import Status

    by_status = dict(_sent_tickets(run_id).values_list("status").annotate(n=Count("pk")))
    classified = _sent_tickets(run_id).filter(status=Status.CLASSIFIED).prefetch_related("classifications")
    seconds = [
        (min(c.created for c in ticket.classifications.all()) - ticket.created).total_seconds()
        for ticket in classified
        if ticket.classifications.all()
    ]
    return {"by_status": by_status, "seconds_to_classify": _percentiles(seconds)}


def _drain(run_id: str, timeout: float) -> float:
    from tickets.models import Status

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pending = _sent_tickets(run_id).exclude(status__in=[Status.CLASSIFIED, Status.FAILED]).count()
        if pending == 0:
            break
        time.sleep(2)
    return round(time.monotonic() - started, 1)


def _broker_url() -> str:
    from django.conf import settings

    return str(settings.CELERY_BROKER_URL)


def _stop(launcher: subprocess.Popen[bytes]) -> int:
    launcher.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        return launcher.wait(timeout=60)
    except subprocess.TimeoutExpired:
        launcher.kill()
        return -9


def _send(args: argparse.Namespace, base: str, token: str, run_id: str, log: Path) -> dict[str, Any]:
    """The steady stream: one ticket every 1/rate seconds, on a fixed schedule, for the whole duration."""
    interval = 1.0 / args.rate
    started = time.monotonic()
    end = started + args.minutes * 60
    sent = 0
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    ids: list[int] = []
    next_at, next_report = started, started + PROGRESS_EVERY_SECONDS
    while next_at < end:
        time.sleep(max(0.0, next_at - time.monotonic()))
        status, ms, ticket_id = _post(base, token, sent, run_id)
        sent += 1
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(ms)
        if status == 202 and ticket_id is not None:
            ids.append(ticket_id)
        next_at += interval
        if time.monotonic() >= next_report:
            next_report += PROGRESS_EVERY_SECONDS
            minutes = (time.monotonic() - started) / 60
            print(f"{minutes:5.1f} min: sent {sent}, accepted {len(ids)}, {_log_events(log)}", flush=True)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "sent": sent,
        "statuses": statuses,
        "ids": ids,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="tickets per second")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fake-llm-port", type=int, default=8100)
    parser.add_argument("--no-llm", action="store_true", help="keyword classifier only (no fake LLM server)")
    args = parser.parse_args()

    when = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    data_dir = ROOT / ".data" / f"soak-{when}"
    data_dir.mkdir(parents=True)
    env = _stack_env(data_dir)
    os.environ.update(DATA_DIR=str(data_dir), DEBUG="1", ENV_FILE="")  # this process reads the same database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    log = data_dir / "stack.log"
    base = f"http://{args.host}:{args.port}"

    launcher = _start_stack(args, env, log)
    try:
        _wait_until_up(base, launcher)
        token = _manage(env, "drf_create_token", "demo").split()[2]  # as the README does it
        print(f"stack up on {base}; sending {args.rate}/s for {args.minutes} min; log: {log}", flush=True)
        sending = _send(args, base, token, when, log)
        import django

        django.setup()
        drain_seconds = _drain(when, DRAIN_SECONDS)
        outcome = _outcome(when)
        events = _log_events(log)
    finally:
        launcher_exit = _stop(launcher)

    accepted = len(sending["ids"])
    done = outcome["by_status"].get("classified", 0) + outcome["by_status"].get("failed", 0)
    figures = {
        "when": when,
        "python": platform.python_version(),
        "command": f"make bench-soak SOAK_MINUTES={args.minutes:g} SOAK_RATE={args.rate:g}",
        "broker": _broker_url(),
        "llm": "none (keyword classifier)" if args.no_llm else "fake LLM server",
        "minutes": round(sending["seconds"] / 60, 1),
        "rate_per_second": args.rate,
        "tickets": {
            "sent": sending["sent"],
            "accepted": accepted,
            "classified": outcome["by_status"].get("classified", 0),
            "failed": outcome["by_status"].get("failed", 0),
            "lost": accepted - done,
            "post_statuses": sending["statuses"],
        },
        "post_ms": _percentiles(sending["latencies"]),
        "seconds_to_classify": outcome["seconds_to_classify"],
        "drain_seconds_after_last_ticket": drain_seconds,
        "processes": events,
        "launcher_exit_code": launcher_exit,
        "log": str(log.relative_to(ROOT)),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"soak-{when}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
