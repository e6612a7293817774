from __future__ import annotations

from typing import Any

import factory

from classification.models import Category
from classification.tests.factories import ClassificationFactory
from resolutions.models import Draft, DraftSource, DraftStatus, Specialist
from tickets.tests.factories import TicketFactory


class SpecialistFactory(factory.django.DjangoModelFactory):
    """The category's specialist, replacing the one the data migration installed (one per category)."""

    class Meta:
        model = Specialist

    @classmethod
    def _create(cls, model_class: type[Specialist], *args: Any, **kwargs: Any) -> Specialist:
        model_class.objects.filter(category=kwargs["category"]).delete()
        return super()._create(model_class, *args, **kwargs)

    category = factory.LazyFunction(lambda: Category.objects.get(slug="billing"))
    instructions = "You are the billing specialist. Check the invoice before promising a refund."


class DraftFactory(factory.django.DjangoModelFactory):
    """A proposed draft from the specialist's model, for a classified billing ticket."""

    class Meta:
        model = Draft

    ticket = factory.SubFactory(TicketFactory, classified=True, category="billing")
    classification = factory.SubFactory(
        ClassificationFactory, ticket=factory.SelfAttribute("..ticket"), category="billing"
    )
    category = "billing"
    status = DraftStatus.PROPOSED
    source = DraftSource.LLM
    diagnosis = "The customer was charged twice for one order."
    steps = factory.LazyFunction(lambda: ["Check the payments of the order.", "Refund the second charge."])
    reply = "Hello, we will refund the second charge within 5 days [1]."
    can_close = True
    citations = factory.LazyFunction(list)
    model_name = "fake-classifier"
