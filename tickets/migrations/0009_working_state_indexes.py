"""The working state's indexes (the default list of open and pending tickets, the SLA's due times, "my
tickets", the state filter), built CONCURRENTLY on PostgreSQL (`_concurrent.py`)."""

from __future__ import annotations

from django.db import migrations, models

from tickets.migrations._concurrent import operations

INDEXES = [
    # The dashboard's default list (open and pending tickets, newest first) once most are resolved.
    models.Index(
        fields=["-created", "-id"], condition=models.Q(state__in=("open", "pending")), name="ticket_active_idx"
    ),
    # SLA: overdue and due-soon open tickets, and the list sorted by due time.
    models.Index(fields=["due_at"], condition=models.Q(state__in=("open", "pending")), name="ticket_active_due_idx"),
    # "My tickets" and the assignee filter, newest first.
    models.Index(fields=["assignee", "-created"], name="ticket_assignee_created_idx"),
    # The working-state filter (resolved tickets, pending ones), newest first.
    models.Index(fields=["state", "-created"], name="ticket_state_created_idx"),
]


create, drop = operations(INDEXES)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0008_customer_search_trigram_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="ticket", index=index) for index in INDEXES],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]
