"""The ticket filters, shared by the API list, the dashboard list, its bulk actions and its CSV export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from classification.taxonomy import category_choices, team_choices
from tickets import workflow
from tickets.models import ACTIVE_STATES, Channel, Priority, Sentiment, Source, Status, Ticket, WorkState

# The working-state filter: "active" (open or pending) is what the dashboard shows unless told otherwise.
ACTIVE = "active"
STATE_CHOICES = [(ACTIVE, "Open or pending"), *WorkState.choices]
# Values of the assignee and team filters that mean the person asking.
ME, NOBODY, MINE = "me", "none", "mine"
DUE_CHOICES = [
    ("overdue", "Overdue"),
    ("1h", "Due within 1 h"),
    ("4h", "Due within 4 h"),
    ("24h", "Due within 24 h"),
]
DUE_WINDOWS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}


# The required-information filter ("waiting for information").
INFO_CHOICES = [("missing", "Waiting for information"), ("complete", "Nothing missing")]


def _assignee_choices() -> list[tuple[str, str]]:
    return [(ME, "Me"), (NOBODY, "Unassigned"), *workflow.agent_choices()]


def _team_choices() -> list[tuple[str, str]]:
    return [(MINE, "My team"), *team_choices()]


class TicketFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", max_length=200)
    # A customer's key (customers.models.key_for): their customer id, or their email for tickets without one.
    customer = django_filters.CharFilter(method="filter_customer", max_length=254)
    state = django_filters.ChoiceFilter(choices=STATE_CHOICES, method="filter_state", empty_label="Any")
    assignee = django_filters.ChoiceFilter(choices=_assignee_choices, method="filter_assignee", empty_label="Anyone")
    due = django_filters.ChoiceFilter(choices=DUE_CHOICES, method="filter_due", empty_label="Any time")
    category = django_filters.ChoiceFilter(choices=category_choices, empty_label="Any")
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="Any")
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices, empty_label="Any")
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any")
    source = django_filters.ChoiceFilter(field_name="classification_source", choices=Source.choices, empty_label="Any")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any")
    team = django_filters.ChoiceFilter(choices=_team_choices, method="filter_team", empty_label="Any")
    info = django_filters.ChoiceFilter(choices=INFO_CHOICES, method="filter_info", empty_label="Any")
    min_risk = django_filters.NumberFilter(field_name="risk", lookup_expr="gte", min_value=0, max_value=1)
    # received_after / received_before: dates, the second one inclusive (the whole day).
    received = django_filters.DateFromToRangeFilter(field_name="created")

    class Meta:
        model = Ticket
        fields = [
            "search",
            "customer",
            "state",
            "assignee",
            "due",
            "category",
            "priority",
            "sentiment",
            "status",
            "source",
            "channel",
            "team",
            "info",
            "min_risk",
            "received",
        ]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        # Someone who still holds tickets but is no longer an agent: their tickets stay findable.
        asked = (data or {}).get("assignee") or ""
        # PostgreSQL refuses a NUL byte in a query (a 500); such a name is no user's, and the field says so.
        if asked and asked not in (ME, NOBODY) and "\x00" not in asked:
            holder = User.objects.filter(username=asked).exclude(pk__in=workflow.agents().values("pk")).first()
            if holder is not None:
                self.filters["assignee"].extra["choices"] = lambda: [
                    *_assignee_choices(),
                    workflow.holder_choice(holder),
                ]

    def _user(self) -> Any:
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """Subject, body, the customer's name or email contains the text, in any case."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(subject__icontains=value)
            | Q(body__icontains=value)
            | Q(customer_name__icontains=value)
            | Q(customer_email__icontains=value)
        )

    def filter_customer(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """The customer's tickets: by customer id, or by email (any case) for tickets without one — the two
        indexes `ticket_customer_id_idx` and `ticket_customer_email_idx`."""
        value = value.strip()
        if not value or "\x00" in value:
            return queryset if not value else queryset.none()
        by_email = Q(customer_id="", email_key=value.lower())
        return queryset.annotate(email_key=Lower("customer_email")).filter(Q(customer_id=value) | by_email)

    def filter_state(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == ACTIVE:
            return queryset.filter(state__in=ACTIVE_STATES)
        return queryset.filter(state=value)

    def filter_assignee(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == NOBODY:
            return queryset.filter(assignee__isnull=True)
        if value == ME:
            user = self._user()
            return queryset.filter(assignee=user) if user is not None else queryset.none()
        return queryset.filter(assignee__username=value)

    def filter_team(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == MINE:
            user = self._user()
            team = workflow.team_of(user) if user is not None else ""
            return queryset.filter(team=team) if team else queryset.none()
        return queryset.filter(team=value)

    def filter_info(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """Waiting for information: the current classification lists required information the ticket lacks."""
        if value == "missing":
            return queryset.exclude(missing_info=[])
        return queryset.filter(missing_info=[])

    def filter_due(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        """SLA: open or pending tickets past their due time, or due within the window (not yet overdue)."""
        now = timezone.now()
        active = queryset.filter(state__in=ACTIVE_STATES)
        if value == "overdue":
            return active.filter(due_at__lt=now)
        return active.filter(due_at__gte=now, due_at__lt=now + DUE_WINDOWS[value])
