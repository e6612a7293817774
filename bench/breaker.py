"""What the breaker's shared state costs: a status read (every page header, the API, /metrics) and a
call through the closed breaker (every classification), per storage. `python -m bench.breaker`."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

CALLS = 2000
REPEATS = 5


def _microseconds(operation: Callable[[], Any]) -> dict[str, float]:
    per_call = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(CALLS):
            operation()
        per_call.append((time.perf_counter() - started) / CALLS * 1_000_000)
    return {"median_us": round(statistics.median(per_call), 1), "max_us": round(max(per_call), 1)}


def _storages() -> dict[str, Any]:
    from django.conf import settings

    from classification import breaker

    storages: dict[str, Any] = {"memory": None, "database": breaker.DatabaseBackend()}
    if settings.REDIS_URL:
        storages["redis"] = breaker.RedisBackend(breaker.redis_client(settings.REDIS_URL))
    return storages


def breaker_figures() -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from classification import breaker

    call_command("migrate", verbosity=0)
    figures: dict[str, Any] = {"database_vendor": connection.vendor, "calls": CALLS}
    for name, backend in _storages().items():
        store = breaker.SharedStorage(backend)
        store.clear()
        breaker.install_storage(store)
        figures[name] = {
            "status_read": _microseconds(breaker.status),
            "closed_call": _microseconds(lambda: breaker.call(lambda: None)),
        }
        store.clear()
    breaker.install_storage(None)
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")
    import django

    django.setup()
    print(json.dumps(breaker_figures(), indent=2))
