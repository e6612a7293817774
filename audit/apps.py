from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only audit log: logins, corrections, requeues, taxonomy and token changes."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"

    def ready(self) -> None:
        from audit import signals  # noqa: F401  # connects the receivers for logins and tokens
