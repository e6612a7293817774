"""Indexes on the ticket table built CONCURRENTLY on PostgreSQL, shared by the migrations that add them: a
deployment does not block the table's writes (new tickets keep arriving) while an index builds on a million
rows. SQLite builds them as usual, or skips those only PostgreSQL can use. (A module whose name starts
with `_` is not a migration to Django's loader.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

Operation = Callable[[Any, Any], None]


def operations(indexes: list[models.Index], *, postgresql_only: bool = False) -> tuple[Operation, Operation]:
    """(create, drop) for RunPython, the migration being non-atomic (`atomic = False`)."""

    def _applies(schema_editor: Any) -> tuple[bool, dict[str, bool]]:
        postgresql = schema_editor.connection.vendor == "postgresql"
        return postgresql or not postgresql_only, {"concurrently": True} if postgresql else {}

    def create(apps: Any, schema_editor: Any) -> None:
        applies, options = _applies(schema_editor)
        model = apps.get_model("tickets", "Ticket")
        for index in indexes if applies else []:
            schema_editor.add_index(model, index, **options)

    def drop(apps: Any, schema_editor: Any) -> None:
        applies, options = _applies(schema_editor)
        model = apps.get_model("tickets", "Ticket")
        for index in indexes if applies else []:
            schema_editor.remove_index(model, index, **options)

    return create, drop
