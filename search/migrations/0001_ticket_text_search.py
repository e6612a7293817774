"""The tickets' text search. PostgreSQL: a GIN index on the weighted tsvector (subject A, body B) that
`search.backends` queries with the same expression, built CONCURRENTLY so the ticket table keeps taking
writes (trigram similarity on the subject uses 0005's trigram index). SQLite: an external-content FTS5 table
kept in sync by triggers (`search.fts5`)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from search.backends import PG_VECTOR

INDEX = "search_ticket_tsv_idx"


def create(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON tickets_ticket USING gin (({PG_VECTOR}))"
        )
    elif connection.vendor == "sqlite":
        from search import fts5

        fts5.create(connection.alias)


def drop(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    elif connection.vendor == "sqlite":
        from search import fts5

        fts5.drop(connection.alias)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tickets", "0011_enrichment_options"),
    ]

    operations = [migrations.RunPython(create, drop)]
