"""Customer write flows shared by the API, the import command and admin; the panel a ticket page shows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from audit import services as audit
from audit.models import Action
from customers.context import CustomerContext, for_customer
from customers.models import Customer, key_for
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# What a client may set on a customer (PUT, bulk, import).
FIELDS = ("external_id", "email", "name", "organisation", "plan", "vip", "attributes")
# Customers per bulk request or import transaction.
BULK_MAX = 1000


def upsert(key: str, values: dict[str, Any], *, actor: User | None = None) -> tuple[Customer, bool]:
    """Create or update the customer `key` with `values` (only FIELDS). Returns (customer, created)."""
    with transaction.atomic():
        customer, created = Customer.objects.update_or_create(
            key=key, defaults={name: values[name] for name in FIELDS if name in values}
        )
        if actor is not None:
            changed = sorted(name for name in FIELDS if name in values)
            audit.record(
                Action.CUSTOMER_CHANGED, actor=actor, target=f"customer:{key}"[:200], detail={"fields": changed}
            )
    return customer, created


def upsert_many(rows: Sequence[dict[str, Any]], *, actor: User | None = None, actor_name: str = "") -> tuple[int, int]:
    """Create or update many customers (each row has its `key`) in one transaction: all or nothing. Returns
    (created, updated)."""
    keys = [row["key"] for row in rows]
    with transaction.atomic():
        known = {c.key: c for c in Customer.objects.select_for_update().filter(key__in=keys)}
        new: dict[str, Customer] = {}
        changed: list[Customer] = []
        for row in rows:
            values = {name: row[name] for name in FIELDS if name in row}
            customer = known.get(row["key"]) or new.get(row["key"])
            if customer is None:
                new[row["key"]] = Customer(key=row["key"], **values)
                continue
            for name, value in values.items():
                setattr(customer, name, value)
            if customer.pk is not None:
                changed.append(customer)
        Customer.objects.bulk_create(list(new.values()), batch_size=500)
        if changed:
            Customer.objects.bulk_update(list({c.pk: c for c in changed}.values()), list(FIELDS), batch_size=500)
        audit.record(
            Action.CUSTOMERS_IMPORTED,
            actor=actor,
            actor_name=actor_name,
            target=f"customers:{len(rows)}",
            detail={"created": len(new), "updated": len({c.pk for c in changed})},
        )
    logger.info("customers imported: %d created, %d updated", len(new), len({c.pk for c in changed}))
    return len(new), len({c.pk for c in changed})


def customer_of(ticket: Ticket) -> Customer | None:
    key = key_for(ticket.customer_id, ticket.customer_email)
    return Customer.objects.filter(key=key).first() if key else None


def panel_for(ticket: Ticket) -> CustomerContext | None:
    """The ticket page's customer panel: the customer's record and context now, their other tickets (None:
    the ticket names no customer, or the worker has not seen it yet)."""
    customer = customer_of(ticket)
    return for_customer(customer, exclude=[ticket.pk]) if customer is not None else None
