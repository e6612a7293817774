from __future__ import annotations

from typing import Any

from django import forms


class DecisionForm(forms.Form):
    """An agent's decision on a draft: accept (what the text fields hold is what is accepted: edited or as
    written) or reject (with an optional reason)."""

    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    diagnosis = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    steps = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
        help_text="One step per line.",
    )
    reply = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), max_length=6000)
    note = forms.CharField(required=False, max_length=2000, label="Why reject (optional)")

    def edits(self) -> dict[str, Any]:
        """The text fields as the draft's values: only those the form carried (a bare accept edits nothing)."""
        data = self.cleaned_data
        edits: dict[str, Any] = {}
        for name in ("diagnosis", "reply"):
            if name in self.data:
                edits[name] = data[name]
        if "steps" in self.data:
            edits["steps"] = [line.strip() for line in data["steps"].splitlines() if line.strip()]
        return edits
