"""Django's Redis cache, without a new client object per call.

Django's RedisCacheClient builds a `redis.Redis` object for every cache call (`get_client`), and redis-py's
constructor fills its table of response callbacks each time: 140 µs here, more than the GET it serves.
The API throttle makes two cache calls per request, so this was 0.3 ms of every API request. A client
object holds no connection of its own (it borrows one from the pool for each command) and is safe to
share between threads, so one per server and direction is kept and reused.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # RedisCacheClient's private helpers are not in django-stubs
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = django._client(connection_pool=django._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient
