from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from supportintel import publishing
from supportintel.celery_app import app as celery_app
from workers import heartbeat

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers. Checks nothing else, so an orchestrator never restarts us for Redis."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        logger.warning("readyz: database unreachable", exc_info=True)
        return False


def _connect_to_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _broker_ok() -> bool:
    # Bounded like every broker call: a frozen broker makes readyz answer 503 in time, not hang the probe.
    try:
        publishing.call(_connect_to_broker, what="readyz broker check")
        return True
    except publishing.BrokerUnavailable as exc:
        logger.warning("readyz: broker unreachable: %s", exc)
        return False


def _workers() -> list[dict[str, object]]:
    try:
        return [{"hostname": w.hostname, "seen_at": w.seen_at.isoformat()} for w in heartbeat.alive()]
    except DatabaseError:
        return []  # the database check already says what is wrong


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take tickets: the database and the broker answer (503 otherwise). Workers are reported
    but do not make the web process unready: without them tickets are still accepted and wait, queued,
    so the status is `degraded`, not `unavailable`."""
    workers = _workers()
    checks = {"database": _database_ok(), "broker": _broker_ok(), "workers": bool(workers)}
    ready = checks["database"] and checks["broker"]
    status = "unavailable" if not ready else "ok" if checks["workers"] else "degraded"
    return JsonResponse({"status": status, "checks": checks, "workers": workers}, status=200 if ready else 503)
