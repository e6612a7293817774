from __future__ import annotations

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        # Connects the similarity gate to Celery's worker_ready / worker_shutdown signals.
        from incidents import gate  # noqa: F401
