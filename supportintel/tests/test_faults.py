"""Faults injected into a production-like stack (gunicorn, prefork worker, beat) on private PostgreSQL and
Redis servers: nothing accepted is lost or classified twice, nothing hangs, the log does not flood.
They need the PostgreSQL and Redis server binaries, so they run in the PostgreSQL + Redis pass (.ci/run);
`make bench-faults` runs the same scenarios at full size for docs/RELIABILITY.md."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from supportintel.tests import fault_scenarios
from supportintel.tests.stack import PrivatePostgres, PrivateRedis, Stack, servers_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (settings.DATABASE_URL and settings.REDIS_URL),
        reason="production-stack faults run in the PostgreSQL + Redis pass (.ci/run), on private servers",
    ),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis, Path, str]]:
    if not servers_available():
        pytest.fail("DATABASE_URL and REDIS_URL are set but the postgresql and redis-server binaries are missing")
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as user postgres.
    workdir = Path(tempfile.mkdtemp(prefix="supportintel-stack-"))
    workdir.chmod(0o755)
    postgres, redis = PrivatePostgres(workdir), PrivateRedis(workdir)
    postgres.start()
    redis.start()
    prepared = Stack(workdir, redis, postgres)
    prepared.prepare()
    yield postgres, redis, workdir, prepared.token
    redis.kill()
    postgres.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def stack(servers: tuple[PrivatePostgres, PrivateRedis, Path, str]) -> Iterator[Stack]:
    postgres, redis, workdir, token = servers
    stack = Stack(workdir, redis, postgres, extra_env={"SWEEP_INTERVAL_SECONDS": "5", "QUEUED_STALE_SECONDS": "60"})
    stack.token = token
    stack.reset_data()
    yield stack
    stack.stop()
    if redis.process is None:
        redis.start()
    redis.thaw()


def test_a_frozen_redis_never_holds_a_request_and_loses_nothing(stack):
    figures = fault_scenarios.frozen_broker(stack, tickets=8, frozen_seconds=8, recover_timeout=120)
    print(figures)
    assert figures["accepted"] == figures["tickets_sent"] and figures["http_5xx_or_dropped"] == 0
    # BROKER_CALL_TIMEOUT_SECONDS is 1.0: one request may wait that long, the others skip the broker.
    assert figures["post_seconds_max"] < 5, figures
    assert figures["resent_answer"] == 200  # the client's retry found the saved ticket
    assert (figures["lost"], figures["duplicated"], figures["classified_twice"]) == (0, 0, 0)


def test_a_killed_redis_loses_no_ticket_and_classifies_none_twice(stack):
    figures = fault_scenarios.stopped_broker(stack, tickets=200, down_seconds=5, recover_timeout=150)
    print(figures)
    assert figures["accepted"] == 5 and figures["http_5xx_or_dropped"] == 0
    assert (figures["lost"], figures["duplicated"], figures["classified_twice"]) == (0, 0, 0)


def test_a_database_outage_strands_nothing_and_logs_one_traceback_per_process(stack):
    # A backlog the worker takes seconds to drain (chunks of 100 classify hundreds a second), so the outage
    # comes while it is at work.
    figures = fault_scenarios.database_outage(stack, tickets=3000, down_seconds=12, recover_timeout=150)
    print(figures)
    assert (figures["lost"], figures["classified_twice"], figures["failed"]) == (0, 0, 0)
    # worker main process, its two pool processes, beat, two gunicorn workers: one traceback each at most
    assert figures["tracebacks_logged"] <= 6, figures
    # one line per failed attempt (Celery's `retry:`), and only a few others: first failure, "back", heartbeats
    assert figures["warning_or_worse_lines"] <= 30, figures
