"""SQLite FTS5 for the embedded default: an external-content FTS5 table over the chunks' heading and text,
kept in sync by triggers on the chunk table (the shape of search.fts5). Nothing here runs on PostgreSQL."""

from __future__ import annotations

import logging

from django.db import connections

logger = logging.getLogger(__name__)

TABLE = "knowledge_chunk_fts"
_TRIGGERS = {
    f"{TABLE}_ai": (
        f"AFTER INSERT ON knowledge_chunk BEGIN "
        f"INSERT INTO {TABLE}(rowid, heading, text) VALUES (new.id, new.heading, new.text); END"
    ),
    f"{TABLE}_ad": (
        f"AFTER DELETE ON knowledge_chunk BEGIN "
        f"INSERT INTO {TABLE}({TABLE}, rowid, heading, text) VALUES ('delete', old.id, old.heading, old.text); END"
    ),
    f"{TABLE}_au": (
        f"AFTER UPDATE OF heading, text ON knowledge_chunk BEGIN "
        f"INSERT INTO {TABLE}({TABLE}, rowid, heading, text) VALUES ('delete', old.id, old.heading, old.text); "
        f"INSERT INTO {TABLE}(rowid, heading, text) VALUES (new.id, new.heading, new.text); END"
    ),
}


def create(using: str = "default") -> None:
    """The FTS5 table, its triggers, and the index of the chunks already there."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(heading, text, "
            "content='knowledge_chunk', content_rowid='id', tokenize='porter unicode61')"
        )
    ensure(using, rebuild=True)


def drop(using: str = "default") -> None:
    with connections[using].cursor() as cursor:
        for name in _TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def ensure(using: str = "default", *, rebuild: bool = False) -> None:
    """Triggers present (created again if a table rebuild dropped them, and the index rebuilt then)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if TABLE not in present:
            return  # not migrated yet
        missing = [name for name in _TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(f"CREATE TRIGGER {name} {_TRIGGERS[name]}")
        if missing or rebuild:
            cursor.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")
            logger.info("FTS5 index of knowledge chunks rebuilt (triggers created: %s)", missing)
