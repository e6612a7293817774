from __future__ import annotations

from typing import Any

from django import forms

from analysis import services
from classification.taxonomy import category_choices, team_choices
from tickets.models import Channel, Priority


def _any(choices: Any) -> list[tuple[str, str]]:
    return [("", "Any"), *list(choices)]


class RunForm(forms.Form):
    """A new run: its period (first and last day, inclusive) and optional filters. Shared by the dashboard
    and the API (whose serializer validates through it)."""

    first_day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    last_day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="To")
    category = forms.ChoiceField(choices=(), required=False)
    team = forms.ChoiceField(choices=(), required=False)
    priority = forms.ChoiceField(choices=_any(Priority.choices), required=False)
    channel = forms.ChoiceField(choices=_any(Channel.choices), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", dict(zip(("first_day", "last_day"), services.last_week(), strict=True)))
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _any(category_choices())  # type: ignore[attr-defined]
        self.fields["team"].choices = _any(team_choices())  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            raise forms.ValidationError("The period ends before it starts.")
        return data

    def filters(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in services.FILTERS if self.cleaned_data.get(name)}
