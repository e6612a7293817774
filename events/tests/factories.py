from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from events.models import EventType, WebhookSubscription


class WebhookSubscriptionFactory(DjangoModelFactory):
    class Meta:
        model = WebhookSubscription

    name = factory.Sequence(lambda n: f"hook {n}")
    url = "http://127.0.0.1:9/hook"
    events = factory.LazyFunction(lambda: [t.value for t in EventType])
    secret = "whsec_test_secret_0123456789"
