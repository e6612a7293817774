"""Trigram indexes for the free-text search on PostgreSQL.

The search filter is `subject ILIKE %word% OR body ILIKE %word%`, which Django writes as
`UPPER(col::text) LIKE UPPER(%s)`. A GIN trigram index on exactly that expression lets PostgreSQL answer
a rare word from the index instead of scanning every ticket (3.5 s to under 1 ms at a million tickets,
see README, Benchmarks). SQLite has no such index; there the search stays a scan.

Built CONCURRENTLY, so a deployment does not lock the ticket table while the index builds; that needs a
migration outside a transaction. If the database user may not create the pg_trgm extension, the
migration says so and goes on: search still works, as a scan.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, migrations

INDEXES = {"ticket_subject_trgm_idx": "subject", "ticket_body_trgm_idx": "body"}


def create_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        print(f"\n  pg_trgm unavailable ({error}); the ticket search stays a scan without trigram indexes.")
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets_ticket "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )
    # Statistics on the indexed expressions: without them the planner guesses, and guesses badly
    # (a common word went from 17 ms to 200 ms at a million tickets until the next autoanalyze).
    schema_editor.execute("ANALYZE tickets_ticket")


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0004_covering_status_index"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
