from __future__ import annotations

from typing import Any

from django import forms

from classification.taxonomy import category_choices
from events.models import EventType, WebhookSubscription


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Receives a signed POST per event.")
    events = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
    categories = forms.MultipleChoiceField(
        choices=category_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only tickets of these categories (none ticked: every category). A filtered subscription gets "
        "no ticket.created events: a new ticket has no category yet.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "events", "categories", "secret", "active")

    def clean_url(self) -> Any:
        url = self.cleaned_data["url"]
        if not str(url).startswith(("http://", "https://")):
            raise forms.ValidationError("Only http and https URLs.")
        return url
