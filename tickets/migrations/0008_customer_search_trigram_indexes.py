"""The search also matches the customer's name and email: trigram indexes on those two columns on
PostgreSQL, built like the subject's and body's (`_trigram.py`)."""

from __future__ import annotations

from django.db import migrations

from tickets.migrations._trigram import operations

create_indexes, drop_indexes = operations(
    {"ticket_customer_name_trgm_idx": "customer_name", "ticket_customer_email_trgm_idx": "customer_email"}
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0007_working_state_assignment_saved_views"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
