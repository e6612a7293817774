from __future__ import annotations

import factory

from classification.models import Classification
from tickets.tests.factories import TicketFactory


class ClassificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classification

    ticket = factory.SubFactory(TicketFactory)
    source = "keyword"
    category = "general"
    priority = "medium"
    sentiment = "neutral"
    risk = 0.15
    team = "frontline"
    confidence = 0.5
