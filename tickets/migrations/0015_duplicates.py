"""Duplicates (issue 16): the earlier ticket a ticket likely repeats (the worker's hint) and the one an agent
confirmed it duplicates, with small partial indexes for both and the same customer's recent tickets. The
columns are nullable (no table rewrite); the indexes are built CONCURRENTLY on PostgreSQL (`_concurrent.py`)."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

from tickets.migrations._concurrent import operations

INDEXES = [
    models.Index(
        fields=["duplicate_of", "created"], condition=Q(duplicate_of__isnull=False), name="ticket_duplicate_idx"
    ),
    models.Index(
        fields=["likely_duplicate_of"],
        condition=Q(likely_duplicate_of__isnull=False),
        name="ticket_likely_duplicate_idx",
    ),
    models.Index(fields=["customer_email", "-created"], condition=~Q(customer_email=""), name="ticket_customer_idx"),
]

create, drop = operations(INDEXES)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0014_fallback_llm_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="duplicate_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="duplicates",
                to="tickets.ticket",
            ),
        ),
        migrations.AddField(
            model_name="ticket",
            name="likely_duplicate_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tickets.ticket",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="ticket", index=index) for index in INDEXES],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]
