from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import F, OrderBy
from django.http import QueryDict
from django.utils import timezone

from classification.taxonomy import active_category_choices, routed_team, team_choices
from tickets import workflow
from tickets.models import Channel, Priority, Sentiment, Ticket, WorkState

SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    # SLA first: the soonest due (overdue at the top), tickets without a due time last.
    "due": (F("due_at").asc(nulls_last=True), "-created"),
    "risk": ("-risk", "-created"),
    "confidence": ("confidence", "-created"),
}
SORT_LABELS = {
    "newest": "Newest",
    "oldest": "Oldest",
    "due": "Due soonest",
    "risk": "Highest risk",
    "confidence": "Lowest confidence",
}
# Deep pages cost an OFFSET; past this, narrow the filters instead.
MAX_PAGE = 400


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "body", "channel", "customer_name", "customer_email", "declared_priority"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}
        labels = {"declared_priority": "Customer's priority", "channel": "Received by"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A ticket typed in by an agent came by mail or phone far more often than through the API.
        channel, declared = self.fields["channel"], self.fields["declared_priority"]
        assert isinstance(channel, forms.ChoiceField) and isinstance(declared, forms.ChoiceField)
        channel.choices = [(c.value, c.label) for c in Channel if c != Channel.API]
        channel.initial = Channel.EMAIL
        declared.choices = [("", "Not stated"), *Priority.choices]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not (data.get("subject") or "").strip() and not (data.get("body") or "").strip():
            raise forms.ValidationError("A ticket needs a subject or a body.")
        return data


ROUTE_BY_CATEGORY = ("", "Route by category")


class CorrectionForm(forms.Form):
    category = forms.ChoiceField(choices=active_category_choices)
    priority = forms.ChoiceField(choices=Priority.choices)
    sentiment = forms.ChoiceField(choices=Sentiment.choices)
    team = forms.ChoiceField(
        choices=lambda: [ROUTE_BY_CATEGORY, *team_choices()],
        required=False,
        help_text="Left on 'Route by category', the ticket goes to its category's team (critical: escalation).",
    )

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> CorrectionForm:
        """Starts from the ticket's values. The team stays on 'Route by category' unless someone chose a
        team other than the routing's, so changing only the category moves the ticket to the new team."""
        routed = routed_team(ticket.category, ticket.priority) if ticket.category else ticket.team
        return cls(
            initial={
                "category": ticket.category,
                "priority": ticket.priority or Priority.MEDIUM,
                "sentiment": ticket.sentiment or Sentiment.NEUTRAL,
                "team": "" if ticket.team == routed else ticket.team,
            }
        )


class ListOptionsForm(forms.Form):
    """Sorting and paging of the dashboard list (the filters are tickets.filters.TicketFilter)."""

    sort = forms.ChoiceField(choices=list(SORT_LABELS.items()), required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def ordering(self) -> tuple[str | OrderBy, ...]:
        return SORTS[self.cleaned_data.get("sort") or "newest"]

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1


class PageForm(forms.Form):
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1


class StateForm(forms.Form):
    state = forms.ChoiceField(choices=WorkState.choices)


# The assignee value that means nobody (unassign).
NOBODY = "none"


class AssigneeMixin:
    """An `assignee` field naming an agent (or NOBODY); `assignee_user()` is the user, None for nobody."""

    cleaned_data: dict[str, Any]

    def assignee_user(self) -> Any:
        username = self.cleaned_data.get("assignee")
        return workflow.agents().get(username=username) if username and username != NOBODY else None


class AssignForm(AssigneeMixin, forms.Form):
    """The ticket page's assignee select. `holder`: who holds the ticket now, shown even if they are no
    longer an agent (choosing them again changes nothing)."""

    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, holder: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(NOBODY, "Nobody"), *workflow.agent_choices()]
        if holder is not None and holder.username not in dict(choices):
            choices.append(workflow.holder_choice(holder))
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        self.holder = holder

    def assignee_user(self) -> Any:
        if self.holder is not None and self.cleaned_data.get("assignee") == self.holder.username:
            return self.holder
        return super().assignee_user()


BULK_ACTIONS = [
    ("", "Choose…"),
    ("assign", "Assign to"),
    ("state", "Set state"),
    ("category", "Correct category"),
    ("priority", "Correct priority"),
    ("confirm", "Confirm classification"),
    ("reclassify", "Reclassify"),
]


class TicketIdsField(forms.Field):
    """Ticket ids from checkboxes named alike (`ids=3&ids=7`)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            ids = [int(item) for item in value]
        except (TypeError, ValueError):
            raise forms.ValidationError("Ticket ids are numbers.")
        if len(ids) > workflow.BULK_MAX:
            raise forms.ValidationError(f"Select at most {workflow.BULK_MAX} tickets, or all matching the filter.")
        return ids


class BulkActionForm(AssigneeMixin, forms.Form):
    """One action on the selected tickets, or on every ticket the filter matches (`scope=all`)."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    ids = TicketIdsField(required=False)
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("all", "all matching")], required=False)
    query = forms.CharField(required=False, max_length=2000)
    assignee = forms.ChoiceField(
        choices=lambda: [("", "Choose…"), (NOBODY, "Nobody (unassign)"), *workflow.agent_choices()], required=False
    )
    state = forms.ChoiceField(choices=[("", "—"), *WorkState.choices], required=False)
    category = forms.ChoiceField(choices=lambda: [("", "—"), *active_category_choices()], required=False)
    priority = forms.ChoiceField(choices=[("", "—"), *Priority.choices], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        needs = {"assign": "assignee", "state": "state", "category": "category", "priority": "priority"}
        if action in needs and not data.get(needs[action]):
            self.add_error(needs[action], "Choose a value for this action.")
        if data.get("scope") != "all" and not data.get("ids"):
            raise forms.ValidationError("Select at least one ticket.")
        return data

    def filter_query(self) -> QueryDict:
        return QueryDict(self.cleaned_data.get("query") or "")


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=80)
    query = forms.CharField(required=False, max_length=1000)
    shared = forms.BooleanField(required=False, label="Share with every agent")


class TeamForm(forms.Form):
    team = forms.ChoiceField(choices=lambda: [("", "No team"), *team_choices()], required=False, label="My team")


RANGES = {"today": "Today", "7d": "7 days", "30d": "30 days", "custom": "Custom"}
# A custom range is at most this long: the trend lines have one point per day.
MAX_RANGE_DAYS = 92


class RangeForm(forms.Form):
    """The overview's period: today, the last 7 or 30 days, or custom dates (both inclusive)."""

    range = forms.ChoiceField(choices=list(RANGES.items()), required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs both dates.")
            if end < start:
                raise forms.ValidationError("The range ends before it starts.")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise forms.ValidationError(f"A custom range is at most {MAX_RANGE_DAYS} days.")
        return data

    def period(self) -> tuple[str, date, date]:
        """(key, first day, last day), in the server's time zone."""
        today = timezone.localdate()
        key = self.cleaned_data.get("range") or "7d"
        if key == "custom":
            return key, self.cleaned_data["start"], self.cleaned_data["end"]
        days = {"today": 1, "7d": 7, "30d": 30}[key]
        return key, today - timedelta(days=days - 1), today
