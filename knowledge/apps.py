from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class KnowledgeConfig(AppConfig):
    """The knowledge base: articles, their chunks, ingestion of files, and retrieval over the chunks."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "knowledge"

    def ready(self) -> None:
        post_migrate.connect(_keep_fts_in_sync, sender=self)


def _keep_fts_in_sync(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # Schema upkeep, as in search.apps: a later migration that remakes the chunk table on SQLite drops the
    # FTS5 triggers with it. Put them back after every migrate.
    from knowledge import fts5

    fts5.ensure(using)
