"""What every log line says about where it came from: the request id, the ticket, the Celery task and the user.

A request binds its id (RequestIdMiddleware) and, once authenticated, its user; both travel to every
task the request enqueues in the message's headers (`before_task_publish`), and the task binds them again
with its own id and ticket id (`task_prerun`); a task that enqueues more passes them on the same way.
`ContextFilter` puts the bound values on every log record: as fields in `LOG_FORMAT=json`, as a short
`[request_id=… ticket_id=…]` suffix in the plain format.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import signals
from django.utils.functional import empty

FIELDS = ("request_id", "ticket_id", "task_id", "user")
_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)
# The task message headers that carry the request's id and the username of whoever made it.
HEADER = "request_id"
USER_HEADER = "request_user"


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


def bind(**values: Any) -> None:
    """Add values to this context (this thread or task, and what it copies its context to)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in values.items() if v not in (None, "")}})


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    token = _context.set({k: v for k, v in values.items() if v not in (None, "")})
    try:
        yield
    finally:
        _context.reset(token)


def _user_of(request: Any) -> str | None:
    # Only a user already known: reading a lazy one here would query the database from a log call.
    # DRF's token authentication sets the real user on the Django request once it has checked the token.
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.get_username() if getattr(user, "is_authenticated", False) else None


class ContextFilter(logging.Filter):
    """Puts the bound values on every record, and `context` as a suffix for the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = _context.get() or {}
        request = values.get("request")
        if request is not None:
            values = {**values, "user": _user_of(request)}
        for name in FIELDS:
            setattr(record, name, values.get(name))
        record.context = "".join(f" [{k}={values[k]}]" for k in FIELDS if values.get(k) is not None)
        return True


@signals.before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    values = _context.get() or {}
    request = values.get("request")
    user = _user_of(request) if request is not None else values.get("user")
    for header, value in ((HEADER, values.get("request_id")), (USER_HEADER, user)):
        if value and headers is not None:
            headers.setdefault(header, value)


@signals.task_prerun.connect
def _bind_task(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **extra: Any) -> None:
    request = getattr(task, "request", None)
    first = args[0] if args else None
    if isinstance(first, list) and len(first) == 1:  # a chunk of one ticket: the line is about that ticket
        first = first[0]
    ticket_id = (kwargs or {}).get("ticket_id") or (first if isinstance(first, int) else None)
    _context.set(
        {
            k: v
            for k, v in {
                "request_id": getattr(request, HEADER, None),
                "user": getattr(request, USER_HEADER, None),
                "task_id": task_id,
                "ticket_id": ticket_id,
            }.items()
            if v
        }
    )


@signals.task_postrun.connect
def _unbind_task(**kwargs: Any) -> None:
    _context.set(None)
