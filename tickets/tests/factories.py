"""Ticket factories, with text from the product's own demo tickets (tickets/demo.py)."""

from __future__ import annotations

from typing import Any

import factory
import factory.random
from django.contrib.auth import get_user_model

from tickets import demo
from tickets.models import Channel, Status, Ticket


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    class Params:
        kind = factory.Faker("random_element", elements=list(demo.TEMPLATES))
        # factory_boy's own generator, so `factory.random.reseed_random()` makes factory data reproducible.
        text = factory.LazyAttribute(lambda o: demo.demo_text(o.kind, factory.random.randgen))
        classified = factory.Trait(
            status=Status.CLASSIFIED,
            category="general",
            priority="medium",
            sentiment="neutral",
            risk=0.15,
            team="frontline",
            confidence=0.5,
            classification_source="keyword",
            fallback_reason="not_configured",
        )
        failed = factory.Trait(status=Status.FAILED, last_error="OperationalError: database is locked")

    channel = factory.Faker("random_element", elements=[c.value for c in Channel])
    customer_name = factory.Faker("name")
    customer_email = factory.Faker("email")
    subject = factory.LazyAttribute(lambda o: o.text[0])
    body = factory.LazyAttribute(lambda o: o.text[1])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.Faker("email")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def permissions(self: Any, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        from django.contrib.auth.models import Permission

        if create and extracted:
            for perm in extracted:
                app_label, codename = perm.split(".")
                self.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
