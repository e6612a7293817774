"""PostgreSQL: the tickets' weighted tsvector stored in a column (`search_vector`), kept by a trigger and indexed
by GIN, in place of 0001's index on the expression. A query ranking matches read the expression's value for
each row it looked at (the whole tsvector computed again from subject and body: about 9 ms per similar-ticket
search in the classification drain, docs/SIMILARITY.md); the column is read instead.

The trigger fires on INSERT and on an UPDATE that names subject or body, so classification's own updates
(which never do) cost nothing more. The column is added empty (no table rewrite, a brief lock), the trigger
created, the rows filled in batches of BATCH ids (each its own transaction, so the table keeps taking writes),
then the GIN index built CONCURRENTLY and the old one dropped. SQLite keeps its FTS5 table (0001)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from search.backends import PG_VECTOR, PG_VECTOR_COLUMN, pg_vector

OLD_INDEX = "search_ticket_tsv_idx"
INDEX = "search_ticket_vector_idx"
FUNCTION = "search_ticket_vector"
TRIGGER = "search_ticket_vector_trg"
BATCH = 20_000

_NEW_VECTOR = pg_vector("NEW.")


def create(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"ALTER TABLE tickets_ticket ADD COLUMN IF NOT EXISTS {PG_VECTOR_COLUMN} tsvector")
    run(
        f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.{PG_VECTOR_COLUMN} := {_NEW_VECTOR}; RETURN NEW; END $$"
    )
    run(f"DROP TRIGGER IF EXISTS {TRIGGER} ON tickets_ticket")
    run(
        f"CREATE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE OF subject, body ON tickets_ticket "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM tickets_ticket")
        top = cursor.fetchone()[0]
    for start in range(0, top + 1, BATCH):
        # Rows written since the trigger exists are already filled; the batch skips them.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE tickets_ticket SET {PG_VECTOR_COLUMN} = {PG_VECTOR} "
                f"WHERE id >= %s AND id < %s AND {PG_VECTOR_COLUMN} IS NULL",
                [start, start + BATCH],
            )
    run(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON tickets_ticket USING gin ({PG_VECTOR_COLUMN})")
    run(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_INDEX}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD_INDEX} ON tickets_ticket USING gin (({PG_VECTOR}))")
    run(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    run(f"DROP TRIGGER IF EXISTS {TRIGGER} ON tickets_ticket")
    run(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    run(f"ALTER TABLE tickets_ticket DROP COLUMN IF EXISTS {PG_VECTOR_COLUMN}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("search", "0001_ticket_text_search"),
        ("tickets", "0016_customer_history_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
