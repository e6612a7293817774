from __future__ import annotations

import os
from pathlib import Path

from celery import Celery, signals
from django.db import close_old_connections

from supportintel import (
    embedded_broker,
    logcontext,  # noqa: F401  # connects the signals that carry the request id to tasks
    redis_broker,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportintel.settings")

embedded_broker.register()  # `atomicfs://`, the embedded default's broker
redis_broker.register()  # `redis://`: kombu's transport reusing its client objects
app = Celery("supportintel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def all_queues() -> str:
    """Every queue a task is routed to, comma-separated, classification's first: what one worker that does all
    the work consumes (`make run`'s, the tests')."""
    from django.conf import settings

    routed = [route["queue"] for route in settings.CELERY_TASK_ROUTES.values()]
    return ",".join(dict.fromkeys([*routed, settings.CELERY_TASK_DEFAULT_QUEUE]))


def ensure_broker_folders() -> None:
    """The filesystem transports need their folders to exist before anyone publishes or consumes."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _prepare_broker(sender: Celery, **kwargs: object) -> None:
    ensure_broker_folders()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: object = None, **kwargs: object) -> None:
    # What Django does around each request: drop a connection that broke or outlived DB_CONN_MAX_AGE,
    # keep the others (CELERY_DB_REUSE_MAX stops Celery's fixup from closing every one, every task).
    # Not for a task run in the caller's process (`.apply()`): the connection is the caller's.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
