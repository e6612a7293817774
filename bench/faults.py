"""Faults injected into the production stack, at full size: `make bench-faults`.

gunicorn (2 workers), a prefork Celery worker (-c 2) and beat on a private PostgreSQL cluster and a private
Redis server (so the shared ones are never touched), every setting at its production default. Each scenario
prints its figures (tickets sent, lost, duplicated, classified twice, 5xx, seconds to recover) and all are
written to bench/results/faults.json; docs/RELIABILITY.md quotes them. Needs the PostgreSQL and Redis
server binaries (Debian's postgresql and redis-server)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "faults.json"


def _scenarios() -> list[tuple[str, Callable[..., dict[str, Any]], dict[str, Any]]]:
    from supportintel.tests import fault_scenarios as f

    return [
        ("frozen_redis", f.frozen_broker, {"tickets": 40, "frozen_seconds": 30, "recover_timeout": 300}),
        # Backlogs of 10,000+: the worker classifies hundreds a second (chunks), and each fault must come
        # while it is at work.
        ("killed_redis", f.stopped_broker, {"tickets": 10000, "down_seconds": 20, "recover_timeout": 300}),
        ("database_outage", f.database_outage, {"tickets": 10000, "down_seconds": 20, "recover_timeout": 300}),
        ("killed_workers", f.killed_workers, {"tickets": 12000, "kills": 3, "recover_timeout": 900}),
    ]


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from supportintel.tests.stack import PrivatePostgres, PrivateRedis, Stack, servers_available

    if not servers_available():
        print("needs the postgresql and redis-server binaries")
        return 2
    only = set(sys.argv[1:])
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="supportintel-faults-"))
    workdir.chmod(0o755)
    postgres, redis = PrivatePostgres(workdir), PrivateRedis(workdir)
    postgres.start()
    redis.start()
    try:
        stack = Stack(workdir, redis, postgres)
        stack.prepare()
        for name, scenario, sizes in _scenarios():
            if only and name not in only:
                continue
            stack.reset_data()
            stack.restarts.clear()
            figures = scenario(stack, **sizes)
            stack.stop()
            if redis.process is None:
                redis.start()
            print(name, json.dumps(figures), flush=True)
            results[name] = figures
    finally:
        stack.stop()
        redis.kill()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if not only:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
