"""A customer's tickets by customer id, or by email (lower case) for tickets without one: what the customer
context reads at classification, the customer page and the list's customer filter (customers/). Built
CONCURRENTLY on PostgreSQL (`_concurrent.py`)."""

from __future__ import annotations

from django.db import migrations, models
from django.db.models import F, Q
from django.db.models.functions import Lower

from tickets.migrations._concurrent import operations

BY_ID = models.Index(F("customer_id"), F("created"), condition=~Q(customer_id=""), name="ticket_customer_id_idx")
BY_EMAIL = models.Index(
    Lower("customer_email"), F("created"), condition=Q(customer_id=""), name="ticket_customer_email_idx"
)
create, drop = operations([BY_ID, BY_EMAIL])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0015_duplicates"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="ticket", index=BY_ID),
                migrations.AddIndex(model_name="ticket", index=BY_EMAIL),
            ],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]
