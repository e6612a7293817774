from __future__ import annotations

from collections.abc import Iterator

import pytest

from events.fake_receiver import FakeReceiver
from events.tests.factories import WebhookSubscriptionFactory


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    server = FakeReceiver(secret=WebhookSubscriptionFactory.secret).start()
    yield server
    server.stop()
