from __future__ import annotations

import contextlib
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError

from incidents.models import Incident, IncidentStatus

# Every dashboard page asks; one small query shared by everyone for this long (a new incident shows within it).
BANNER_CACHE_SECONDS = 10
BANNER_KEY = "incidents:open"
BANNER_SHOWN = 3


def _open_incidents() -> list[dict[str, Any]]:
    try:
        hit = cache.get(BANNER_KEY)
    except RedisError:
        hit = None
    if hit is not None:
        return list(hit)
    rows: list[dict[str, Any]] = list(
        Incident.objects.filter(status=IncidentStatus.OPEN)
        .order_by("-last_seen", "-id")
        .values("pk", "title", "ticket_count", "customer_count")[:BANNER_SHOWN]  # type: ignore[arg-type]
    )
    with contextlib.suppress(RedisError):
        cache.set(BANNER_KEY, rows, BANNER_CACHE_SECONDS)
    return rows


def forget_open_incidents() -> None:
    """An incident opened, closed or reopened: the banner shows it at the next page."""
    with contextlib.suppress(RedisError):
        cache.delete(BANNER_KEY)


def open_incidents(request: HttpRequest) -> dict[str, Any]:
    """The banner's incidents, for signed-in pages only (the login page asks nothing)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"open_incidents": _open_incidents()}
