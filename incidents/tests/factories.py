from __future__ import annotations

import factory
from django.utils import timezone

from incidents.models import Incident
from tickets.models import Status
from tickets.tests.factories import TicketFactory

# Near-identical outage reports, as customers write them during one.
OUTAGE_SUBJECTS = [
    "Checkout down - error E503 on the payment page",
    "Payment page error E503, checkout down",
    "Checkout is down: E503 error when paying",
    "Error E503 on checkout payment page",
    "Checkout down with error E503 at payment",
    "Cannot pay: checkout payment page shows error E503",
    "E503 error on the checkout payment page again",
]


OUTAGE_BODY = "Since a few minutes the checkout payment page at https://shop.example.com/checkout fails with E503."


class OutageTicketFactory(TicketFactory):
    subject = factory.Iterator(OUTAGE_SUBJECTS)  # type: ignore[assignment]  # a fixed set, not the demo text
    body = OUTAGE_BODY  # type: ignore[assignment]
    status = Status.CLASSIFIED
    category = "technical"
    priority = "medium"


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = "Checkout down"
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.SelfAttribute("first_seen")
