from __future__ import annotations

import factory

from classification.models import Category, Classification
from tickets.tests.factories import TicketFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    team = "frontline"
    keywords = factory.LazyFunction(list)


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
