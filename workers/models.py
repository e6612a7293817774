from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per running Celery worker, refreshed every few seconds; `/readyz` and the dashboard
    count the workers seen recently. Kept in the database so it is shared in every configuration."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    # alive(): WHERE seen_at >= now - 3 intervals.
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"
