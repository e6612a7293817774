"""kombu's Redis transport with one client object per channel (supportintel.redis_broker)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from supportintel.celery_app import app
from supportintel.redis_broker import Transport

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"), reason="needs REDIS_URL; .ci/run runs this on Redis"
)


def test_the_redis_scheme_uses_the_transport_that_reuses_its_client():
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)


def test_a_channel_publishes_through_one_client_and_a_new_pool_gets_a_new_one():
    with app.connection_for_write() as conn:
        channel: Any = conn.channel()  # our Redis channel: its helpers are not in kombu's type stubs
        try:
            channel.queue_purge("pipeline-test")
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
            for n in range(3):
                channel._put("pipeline-test", {"body": n})
            assert channel._size("pipeline-test") == 3
            assert [channel._get("pipeline-test")["body"] for _ in range(3)] == [0, 1, 2]

            channel._disconnect_pools()  # what kombu does after a lost connection
            with channel.conn_or_acquire() as third:
                assert third is not first and third.connection_pool is channel.pool
        finally:
            channel.close()
