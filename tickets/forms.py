from __future__ import annotations

from typing import Any

from django import forms

from classification.taxonomy import active_category_choices, team_choices
from tickets.models import Priority, Sentiment, Ticket

SORTS = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    "risk": ("-risk", "-created"),
    "confidence": ("confidence", "-created"),
}
# Deep pages cost an OFFSET; past this, narrow the filters instead.
MAX_PAGE = 400


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["subject", "body", "channel", "customer_name", "customer_email", "declared_priority"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}
        labels = {"declared_priority": "Customer's priority"}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not (data.get("subject") or "").strip() and not (data.get("body") or "").strip():
            raise forms.ValidationError("A ticket needs a subject or a body.")
        return data


class CorrectionForm(forms.Form):
    category = forms.ChoiceField(choices=active_category_choices)
    priority = forms.ChoiceField(choices=Priority.choices)
    sentiment = forms.ChoiceField(choices=Sentiment.choices)
    team = forms.ChoiceField(
        choices=lambda: [("", "route by category"), *team_choices()],
        required=False,
        help_text="Leave on 'route by category' to send the ticket to the category's team.",
    )

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> CorrectionForm:
        return cls(
            initial={
                "category": ticket.category,
                "priority": ticket.priority or Priority.MEDIUM,
                "sentiment": ticket.sentiment or Sentiment.NEUTRAL,
                "team": ticket.team,
            }
        )


class ListOptionsForm(forms.Form):
    """Sorting and paging of the dashboard list (the filters are tickets.filters.TicketFilter)."""

    sort = forms.ChoiceField(choices=[(key, key) for key in SORTS], required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def ordering(self) -> tuple[str, ...]:
        return SORTS[self.cleaned_data.get("sort") or "newest"]

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1
