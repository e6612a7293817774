"""The chunks' text search. PostgreSQL: a GIN index on the weighted tsvector (heading A, text B) that
`knowledge.retrieval` queries with the same expression. SQLite: an external-content FTS5 table kept in sync by
triggers (`knowledge.fts5`)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from knowledge.retrieval import PG_VECTOR

INDEX = "knowledge_chunk_tsv_idx"


def create(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON knowledge_chunk USING gin (({PG_VECTOR}))"
        )
    elif connection.vendor == "sqlite":
        from knowledge import fts5

        fts5.create(connection.alias)


def drop(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    elif connection.vendor == "sqlite":
        from knowledge import fts5

        fts5.drop(connection.alias)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("knowledge", "0001_articles"),
    ]

    operations = [migrations.RunPython(create, drop)]
