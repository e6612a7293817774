"""Writing the audit log. Callers name the action, who did it and to what; the request, when there is
one, gives the address."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.http import HttpRequest

from audit.models import Action, AuditEntry
from supportintel.client_ip import client_ip

logger = logging.getLogger(__name__)

# A bulk action lists at most this many ticket ids in its one entry (the count is always exact).
MAX_IDS = 1000


def record(
    action: Action,
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_name: str = "",
    target: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    user = actor if isinstance(actor, User) else None
    entry = AuditEntry.objects.create(
        actor=user,
        actor_name=actor_name or (user.get_username() if user is not None else ""),
        action=action,
        target=target[:200],
        detail=detail or {},
        ip=(client_ip(request) or None) if request is not None else None,
    )
    logger.info("audit: %s %s %s", entry.actor_name or "-", action, target)
    return entry


def tickets_target(ticket_ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """One target for an action on one or many tickets, with the ids in the detail."""
    target = f"ticket:{ticket_ids[0]}" if len(ticket_ids) == 1 else f"tickets:{len(ticket_ids)}"
    return target, {"ticket_ids": list(ticket_ids[:MAX_IDS]), "count": len(ticket_ids)}
