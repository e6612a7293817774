"""The agents' side of a ticket: its working state (open, pending, resolved), who it is assigned to, and the
team an agent picks tickets up for. Shared by the dashboard, the API and the bulk actions: each change is a
conditional UPDATE through `TicketQuerySet` (the state machine's one home), a `TicketChange` row per ticket
changed, and one audit entry per action naming every ticket."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import services as audit
from audit.models import Action
from events import outbox
from events.models import EventType
from tickets.models import STATE_TRANSITIONS, AgentProfile, ResolvedBy, Ticket, TicketChange, WorkState

logger = logging.getLogger(__name__)

# A bulk action changes at most this many tickets per request (the audit entry lists them all); "all
# matching the filter" past that changes the first ones and says how many were left.
BULK_MAX = 1000


def agents() -> QuerySet[User]:
    """The people tickets can be assigned to: active users who may change tickets (through their own
    permissions, a group's, or as superusers)."""
    perm = Permission.objects.filter(content_type__app_label="tickets", codename="change_ticket")
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(user_permissions__in=perm) | Q(groups__permissions__in=perm))
        .distinct()
        .order_by("username")
    )


def agent_choices() -> list[tuple[str, str]]:
    """(username, name) of everyone tickets can be assigned to, for the dashboard's selects."""
    return [(user.username, user.get_full_name() or user.username) for user in agents()]


def holder_choice(user: User) -> tuple[str, str]:
    """A choice for someone who holds tickets but is no longer an agent (deactivated, or lost the
    permission): their tickets stay findable and shown as theirs."""
    return user.username, f"{user.get_full_name() or user.username} (no longer an agent)"


def change_state(
    ticket_ids: Sequence[int],
    state: str,
    *,
    actor: User | None,
    actor_name: str = "",
    resolved_by: str = ResolvedBy.HUMAN,
) -> list[int]:
    """Move tickets to a working state where STATE_TRANSITIONS allows it (a resolved ticket can only be
    reopened). Returns the ids that changed; the others were already there or cannot move there. `actor` is
    the person; None with an `actor_name` for a command (`resolve_backlog`). `resolved_by`: who a resolved
    ticket records as its resolver (a specialist's draft the agent accepted as written, or a person)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Ticket.objects.select_for_update()
            .filter(pk__in=list(ticket_ids))
            .exclude(state=state)
            .values_list("pk", "state")
        )
        movable = [(pk, old) for pk, old in rows if state in STATE_TRANSITIONS[old]]
        changed = [pk for pk, _ in movable]
        Ticket.objects.filter(pk__in=changed).move_to_state(state, by=actor, now=now, resolved_by=resolved_by)
        TicketChange.objects.bulk_create(
            TicketChange(
                ticket_id=pk, field=TicketChange.Field.STATE, old_value=old, new_value=state, author=actor, created=now
            )
            for pk, old in movable
        )
        if changed and state == WorkState.RESOLVED:
            by = actor.get_username() if actor is not None else (actor_name or None)
            outbox.record(EventType.TICKET_RESOLVED, changed, [{"resolved_by": by} for _ in changed], now=now)
        if changed:
            target, detail = audit.tickets_target(changed)
            detail = {**detail, "state": state}
            audit.record(Action.TICKET_STATE_CHANGED, actor=actor, actor_name=actor_name, target=target, detail=detail)
    logger.info("%d tickets moved to %s by %s", len(changed), state, actor_name or (actor and actor.pk))
    return changed


def assign(ticket_ids: Sequence[int], assignee: User | None, *, actor: User) -> list[int]:
    """Give tickets to `assignee` (None: unassign). Returns the ids that changed hands."""
    now = timezone.now()
    with transaction.atomic():
        # Lock the tickets only (the previous holder's name comes through an outer join).
        rows = Ticket.objects.select_for_update(of=("self",)).filter(pk__in=list(ticket_ids)).order_by("pk")
        rows = rows.filter(assignee__isnull=False) if assignee is None else rows.exclude(assignee=assignee)
        before = list(rows.values_list("pk", "assignee__username"))
        changed = [pk for pk, _ in before]
        Ticket.objects.filter(pk__in=changed).assign(assignee, now=now)
        new_value = assignee.get_username() if assignee is not None else ""
        TicketChange.objects.bulk_create(
            TicketChange(
                ticket_id=pk,
                field=TicketChange.Field.ASSIGNEE,
                old_value=old or "",
                new_value=new_value,
                author=actor,
                created=now,
            )
            for pk, old in before
        )
        if changed:
            target, detail = audit.tickets_target(changed)
            audit.record(Action.TICKET_ASSIGNED, actor=actor, target=target, detail={**detail, "assignee": new_value})
    logger.info("%d tickets assigned to %s by user %s", len(changed), new_value or "nobody", actor.pk)
    return changed


def team_of(user: User) -> str:
    """The team whose unassigned tickets this agent picks up ('' until they choose one)."""
    profile = AgentProfile.objects.filter(user=user).only("team").first()
    return profile.team if profile is not None else ""


def set_team(user: User, team: str) -> None:
    AgentProfile.objects.update_or_create(user=user, defaults={"team": team})
