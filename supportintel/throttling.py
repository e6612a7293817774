from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class FailOpenUserRateThrottle(UserRateThrottle):
    """Per-user throttle that lets requests through when the cache (Redis) is down: throttling is a
    courtesy, losing tickets because Redis blinked is not."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            logger.warning("throttle cache unavailable; allowing request", exc_info=True)
            return True
