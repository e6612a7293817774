from __future__ import annotations

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """The Celery workers as the rest of the product sees them: who is running, seen when."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "workers"

    def ready(self) -> None:
        # Connects the worker heartbeat to Celery's worker_ready / worker_shutdown signals.
        from workers import heartbeat  # noqa: F401
