"""Trigram indexes for the ticket search on PostgreSQL, shared by the migrations that add them.

The search filter is `col ILIKE %word%`, which Django writes as `UPPER(col::text) LIKE UPPER(%s)`. A GIN
trigram index on exactly that expression lets PostgreSQL answer a rare word from the index instead of
scanning every ticket. SQLite has no such index; there the search stays a scan.

Built CONCURRENTLY, so a deployment does not lock the ticket table while an index builds; the migration
using these runs outside a transaction. If the database user may not create the pg_trgm extension, the
migration says so and goes on: search still works, as a scan. (A module whose name starts with `_` is not
a migration to Django's loader.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

Operation = Callable[[Any, Any], None]


def operations(indexes: dict[str, str]) -> tuple[Operation, Operation]:
    """(create, drop) for RunPython: one GIN trigram index per {name: column} of tickets_ticket."""

    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        try:
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as error:
            print(f"\n  pg_trgm unavailable ({error}); the ticket search stays a scan without trigram indexes.")
            return
        for name, column in indexes.items():
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets_ticket "
                f"USING gin (UPPER({column}::text) gin_trgm_ops)"
            )
        # Statistics on the indexed expressions: without them the planner guesses, and guesses badly
        # (a common word went from 17 ms to 200 ms at a million tickets until the next autoanalyze).
        schema_editor.execute("ANALYZE tickets_ticket")

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in indexes:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    return create, drop
