from __future__ import annotations

import factory

from customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"cust-{n}")
    external_id = factory.LazyAttribute(lambda o: o.key)
    email = factory.Faker("email")
    name = factory.Faker("name")
    organisation = factory.Faker("company")
