"""Faults injected into the production-like stack (stack.py), each returning the figures
docs/RELIABILITY.md reports: tickets sent, accepted, lost, duplicated, 5xx answers, seconds to recover.
test_faults.py runs them small and asserts; `bench/faults.py` runs them at full size."""

from __future__ import annotations

import statistics
import time
from typing import Any

from supportintel.tests.stack import Posted, Stack, ticket

TICKETS = "/api/v1/tickets/"


def _post_figures(posted: list[Posted]) -> dict[str, Any]:
    seconds = [p.seconds for p in posted]
    return {
        "accepted": sum(p.status in (200, 202) for p in posted),
        "http_5xx_or_dropped": sum(p.status >= 500 or p.status == 0 for p in posted),
        "post_seconds_median": round(statistics.median(seconds), 3),
        "post_seconds_max": round(max(seconds), 3),
    }


def _outcome(stack: Stack, sent: int) -> dict[str, Any]:
    counts = stack.counts()
    return {
        "tickets_stored": counts["total"],
        "lost": max(0, sent - counts["total"]),
        "duplicated": max(0, counts["total"] - sent),
        "classified_twice": counts["classified_twice"],
        "failed": counts.get("failed", 0),
        "restarts": dict(stack.restarts),
    }


def _post_backlog(stack: Stack, first: int, count: int) -> None:
    for start in range(first, first + count, 1000):  # the bulk endpoint takes 1,000 at a time
        chunk = [ticket(i) for i in range(start, min(start + 1000, first + count))]
        posted = stack.post("/api/v1/tickets/bulk/", {"tickets": chunk})
        assert posted.status == 202, posted.body


def _warm_up(stack: Stack) -> None:
    assert stack.post(TICKETS, ticket(0)).status == 202
    stack.wait_until(stack.all_classified(1), timeout=60)


def frozen_broker(stack: Stack, *, tickets: int, frozen_seconds: float, recover_timeout: float) -> dict[str, Any]:
    """Redis stopped with SIGSTOP while tickets arrive: every POST must answer in bounded time, and a
    client re-sending a ticket (same external_id) must not create a second one."""
    stack.start("web", "worker", "beat")
    _warm_up(stack)
    stack.redis.freeze()
    frozen_at = time.monotonic()
    posted = [stack.post(TICKETS, ticket(i, external_id=f"frozen-{i}")) for i in range(1, tickets + 1)]
    resent = stack.post(TICKETS, ticket(1, external_id="frozen-1"))  # a client retrying after a slow answer
    time.sleep(max(0.0, frozen_seconds - (time.monotonic() - frozen_at)))
    stack.redis.thaw()
    frozen_for = time.monotonic() - frozen_at
    recovered = stack.wait_until(stack.all_classified(tickets + 1), timeout=recover_timeout)
    return {
        "fault": f"Redis frozen (SIGSTOP) for {frozen_for:.0f}s while tickets arrive",
        "tickets_sent": tickets + 1,
        **_post_figures([*posted, resent]),
        "resent_answer": resent.status,
        **_outcome(stack, tickets + 1),
        "seconds_until_all_classified": round(recovered, 1),
        "post_seconds_each": [round(p.seconds, 2) for p in posted],
    }


def stopped_broker(stack: Stack, *, tickets: int, down_seconds: float, recover_timeout: float) -> dict[str, Any]:
    """Redis killed while the worker holds a backlog and tickets keep arriving; started again (empty)
    after `down_seconds`. Every ticket must be classified soon after, exactly once."""
    stack.start("web", "beat")
    _warm_up_without_worker = stack.post(TICKETS, ticket(0))
    assert _warm_up_without_worker.status == 202
    _post_backlog(stack, 1, tickets)
    stack.start("worker")
    time.sleep(1.0)  # the worker has taken part of the backlog
    stack.redis.kill()
    down_at = time.monotonic()
    during = [stack.post(TICKETS, ticket(tickets + i)) for i in range(1, 6)]
    time.sleep(max(0.0, down_seconds - (time.monotonic() - down_at)))
    stack.redis.start()
    back = time.monotonic()
    total = tickets + 6
    sent_during = [p.body["id"] for p in during if isinstance(p.body, dict)]
    during_done = stack.wait_until(stack.classified_ids(sent_during), timeout=recover_timeout)
    stack.wait_until(stack.all_classified(total), timeout=recover_timeout)
    drained = time.monotonic() - back
    return {
        "fault": f"Redis killed for {down_seconds:.0f}s with a backlog of {tickets} and tickets arriving",
        "tickets_sent": total,
        **_post_figures(during),
        **_outcome(stack, total),
        "seconds_until_tickets_sent_during_the_outage_are_classified": round(during_done, 1),
        "seconds_until_all_classified": round(drained, 1),
    }


def database_outage(stack: Stack, *, tickets: int, down_seconds: float, recover_timeout: float) -> dict[str, Any]:
    """PostgreSQL stopped (immediate) for `down_seconds` while the worker drains a backlog. Every ticket
    must be classified soon after it returns, and the log must not flood."""
    stack.start("web", "beat")
    _post_backlog(stack, 0, tickets)
    logged_before = {name: len(stack.log_lines(name)) for name in ("worker", "beat", "web")}
    stack.start("worker")
    stack.wait_until(lambda: stack.counts().get("classified", 0) >= tickets // 10, timeout=60)
    stack.postgres.stop()
    time.sleep(down_seconds)
    stack.postgres.start()
    before = stack.counts().get("classified", 0)  # pg_ctl start -w: it answers now
    moving = stack.wait_until(lambda: stack.counts().get("classified", 0) > before, timeout=recover_timeout)
    recovered = moving + stack.wait_until(stack.all_classified(tickets), timeout=recover_timeout)
    lines = [line for name in logged_before for line in stack.log_lines(name, logged_before[name])]
    return {
        "fault": f"PostgreSQL stopped for {down_seconds:.0f}s while the worker drains {tickets} tickets",
        "tickets_sent": tickets,
        **_outcome(stack, tickets),
        "seconds_until_the_backlog_moves": round(moving, 1),
        "seconds_until_all_classified": round(recovered, 1),
        **_log_figures(lines),
    }


def _log_figures(lines: list[str]) -> dict[str, int]:
    """What an outage wrote: failed attempts (Celery's one `retry:` line each), warning-or-worse lines,
    and tracebacks (a chained exception's "direct cause" counted with the one it belongs to)."""
    chained = ("The above exception was the direct cause", "During handling of the above exception")
    tracebacks = 0
    previous = ""
    for line in lines:
        if line.startswith("Traceback (most recent call last)") and not previous.startswith(chained):
            tracebacks += 1
        if line.strip():
            previous = line
    return {
        "failed_attempts_logged": sum(" retry: " in line for line in lines),
        "warning_or_worse_lines": sum(
            any(f" {level} " in line for level in ("WARNING", "ERROR", "CRITICAL")) for line in lines
        ),
        "tracebacks_logged": tracebacks,
    }


def killed_workers(stack: Stack, *, tickets: int, kills: int, recover_timeout: float) -> dict[str, Any]:
    """The worker killed outright (SIGKILL to its whole process group, pool included) `kills` times while
    it drains a backlog, and started again each time as compose's restart policy would."""
    stack.start("web", "beat")
    _post_backlog(stack, 0, tickets)
    started = time.monotonic()
    stack.start("worker")
    for round_ in range(1, kills + 1):
        stack.wait_until(stack.all_classified(tickets * round_ // (kills + 2)), timeout=120)
        stack.kill("worker")
    recovered = stack.wait_until(stack.all_classified(tickets), timeout=recover_timeout)
    return {
        "fault": f"worker SIGKILLed {kills} times (pool included) while draining {tickets} tickets",
        "tickets_sent": tickets,
        **_outcome(stack, tickets),
        "seconds_to_drain_all": round(time.monotonic() - started, 1),
        "seconds_after_last_kill": round(recovered, 1),
    }
