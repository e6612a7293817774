from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

from supportintel.outages import OutageLog

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

_cache = OutageLog(logger, "throttle cache (Redis)")
# After a cache failure this process lets requests through unthrottled for a few seconds without asking
# Redis, so a frozen Redis costs one short timeout per interval, not one per request.
_skip_cache_until = 0.0


class _FailOpen:
    """A throttle that lets requests through when the cache (Redis) is down or frozen: throttling is a
    courtesy, losing tickets (or holding their requests) because Redis blinked is not."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        global _skip_cache_until
        if time.monotonic() < _skip_cache_until:
            return True
        try:
            allowed: bool = super().allow_request(request, view)  # type: ignore[misc]
        except RedisError as exc:
            _skip_cache_until = time.monotonic() + settings.BROKER_RETRY_AFTER_SECONDS
            _cache.failed("throttling; requests allowed", exc)
            return True
        _cache.ok()
        return allowed


class FailOpenUserRateThrottle(_FailOpen, UserRateThrottle):
    """Per user, every endpoint that sets no throttle of its own."""


class FailOpenScopedRateThrottle(_FailOpen, ScopedRateThrottle):
    """Per user and scope (a view's `throttle_scope`): the workflow endpoints' own budget."""
