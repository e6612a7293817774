"""The working state's indexes (the default list of open and pending tickets, the SLA's due times, "my
tickets", the state filter), built CONCURRENTLY on PostgreSQL so a deployment does not block the ticket table's
writes (new tickets keep arriving) while they build on a million rows; SQLite builds them as usual."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

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


def _concurrently(schema_editor: Any) -> dict[str, bool]:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def create(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("tickets", "Ticket")
    for index in INDEXES:
        schema_editor.add_index(model, index, **_concurrently(schema_editor))


def drop(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("tickets", "Ticket")
    for index in INDEXES:
        schema_editor.remove_index(model, index, **_concurrently(schema_editor))


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
