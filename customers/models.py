"""Customer records: who a ticket's customer is (plan, VIP, organisation, attributes), keyed the way tickets
name them. Depends only on tickets.models' conventions: a ticket belongs to the customer whose key is its
`customer_id`, or, when it has none, its `customer_email` in lower case (`key_for`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


def key_for(customer_id: str, customer_email: str) -> str:
    """The customer a ticket belongs to: its customer id when it has one, else its email in lower case."""
    return (customer_id or "").strip() or (customer_email or "").strip().lower()


class Customer(models.Model):
    # A ticket's `customer_id`, or its email in lower case (key_for); what `PUT /api/v1/customers/{key}/` names.
    key = models.CharField(max_length=254, unique=True)
    external_id = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    organisation = models.CharField(max_length=200, blank=True)
    plan = models.CharField(max_length=50, blank=True, help_text="e.g. free, pro, enterprise (see the rules).")
    vip = models.BooleanField(default=False, verbose_name="VIP")
    attributes = models.JSONField(default=dict, blank=True, help_text="Anything else, as a JSON object.")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        indexes = [
            # The customer list's VIP filter, by key.
            models.Index(fields=["vip", "key"], name="customer_vip_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.key
