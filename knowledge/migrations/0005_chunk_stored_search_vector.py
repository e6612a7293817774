"""PostgreSQL: the chunks' weighted tsvector stored in a generated column with its own GIN index, in place of the
expression index, so that ranking reads each match's vector instead of computing it again (bench/kb.py at 10,000
articles: 360 ms a search before, with the newest 1,000 matches only). ANALYZE keeps the column's most common
lexemes in pg_stats, which knowledge.retrieval reads to leave out words most chunks contain. SQLite: nothing."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from knowledge.retrieval import PG_COLUMN, PG_VECTOR

OLD_INDEX = "knowledge_chunk_tsv_idx"
INDEX = "knowledge_chunk_search_vector_idx"


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE knowledge_chunk ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector "
        f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
    )
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON knowledge_chunk USING gin ({PG_COLUMN})")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_INDEX}")
    schema_editor.execute("ANALYZE knowledge_chunk")


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD_INDEX} ON knowledge_chunk USING gin (({PG_VECTOR}))"
    )
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    schema_editor.execute(f"ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS {PG_COLUMN}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("knowledge", "0004_ticket_match"),
    ]

    operations = [migrations.RunPython(forward, backward)]
