from __future__ import annotations

from django.apps import AppConfig


class ClassificationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "classification"

    def ready(self) -> None:
        # Connects the worker heartbeat to Celery's worker_ready / worker_shutdown signals.
        from classification import heartbeat  # noqa: F401
