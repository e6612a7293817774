"""API latency: POST /api/v1/tickets/ (save + on-commit publish to the configured broker) and the list."""

from __future__ import annotations

import statistics
import time
from typing import Any

REQUESTS = 200
BULK_REQUESTS = 5


def _latencies(call: Any, requests: int = REQUESTS) -> dict[str, float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
        "requests": len(samples),
    }


def api_figures() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from supportintel.celery_app import app

    setup_test_environment()
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
    client = APIClient()
    client.force_authenticate(user)
    payload = {"subject": "Charged twice", "body": "I was charged $49.99 twice for order #88123.", "channel": "api"}

    def create() -> None:
        response = client.post("/api/v1/tickets/", payload, format="json")
        assert response.status_code == 202, response.content

    bulk = {"tickets": [payload] * 1000}

    def create_bulk() -> None:
        response = client.post("/api/v1/tickets/bulk/", bulk, format="json")
        assert response.status_code == 202, response.content

    figures = {
        "create_ticket": _latencies(create),
        "list_tickets": _latencies(lambda: client.get("/api/v1/tickets/")),
        "bulk_1000_tickets": _latencies(create_bulk, BULK_REQUESTS),
    }
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("classification")  # type: ignore[attr-defined]  # kombu's Channel has it
    return figures
