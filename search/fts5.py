"""SQLite FTS5 for the embedded default: external-content FTS5 tables kept in sync by triggers on the table
they index (the tickets' subject and body here; the knowledge base's chunks use the same class). Nothing here
runs on PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExternalContentIndex:
    """An FTS5 table over `columns` of `content` (rows keyed by `id`), and the triggers that keep it current."""

    table: str
    content: str
    columns: Sequence[str]

    def _triggers(self) -> dict[str, str]:
        t, cols = self.table, ", ".join(self.columns)
        new = ", ".join(f"new.{c}" for c in self.columns)
        old = ", ".join(f"old.{c}" for c in self.columns)
        insert = f"INSERT INTO {t}(rowid, {cols}) VALUES (new.id, {new});"
        delete = f"INSERT INTO {t}({t}, rowid, {cols}) VALUES ('delete', old.id, {old});"
        return {
            f"{t}_ai": f"AFTER INSERT ON {self.content} BEGIN {insert} END",
            f"{t}_ad": f"AFTER DELETE ON {self.content} BEGIN {delete} END",
            f"{t}_au": f"AFTER UPDATE OF {cols} ON {self.content} BEGIN {delete} {insert} END",
        }

    def create(self, using: str = "default") -> None:
        """The FTS5 table, its triggers, and the index of the rows already there."""
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.table} USING fts5({', '.join(self.columns)}, "
                f"content='{self.content}', content_rowid='id', tokenize='porter unicode61')"
            )
        self.ensure(using, rebuild=True)

    def drop(self, using: str = "default") -> None:
        with connections[using].cursor() as cursor:
            for name in self._triggers():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def ensure(self, using: str = "default", *, rebuild: bool = False) -> None:
        """Triggers present (created again if a table rebuild dropped them, and the index rebuilt then, since
        rows written meanwhile were not indexed)."""
        connection = connections[using]
        if connection.vendor != "sqlite":
            return
        triggers = self._triggers()
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
            present = {row[0] for row in cursor.fetchall()}
            if self.table not in present:
                return  # not migrated yet
            missing = [name for name in triggers if name not in present]
            for name in missing:
                cursor.execute(f"CREATE TRIGGER {name} {triggers[name]}")
            if missing or rebuild:
                cursor.execute(f"INSERT INTO {self.table}({self.table}) VALUES ('rebuild')")
                logger.info("FTS5 index %s rebuilt (triggers created: %s)", self.table, missing)


TICKETS = ExternalContentIndex("search_ticket_fts", "tickets_ticket", ("subject", "body"))
TABLE = TICKETS.table
create, drop, ensure = TICKETS.create, TICKETS.drop, TICKETS.ensure
