from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SearchConfig(AppConfig):
    """One text-search interface over tickets: PostgreSQL full-text search and trigrams, SQLite FTS5."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "search"

    def ready(self) -> None:
        post_migrate.connect(_keep_fts_in_sync, sender=self)


def _keep_fts_in_sync(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # Schema upkeep, not business flow: on SQLite a later migration that alters the ticket table remakes it
    # (copy, drop, rename), and the FTS5 triggers go with the dropped table. Put them back after every migrate.
    from search import fts5

    fts5.ensure(using)
