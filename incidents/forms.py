from __future__ import annotations

from django import forms

from incidents.models import IncidentStatus
from tickets.models import Ticket


class DuplicateForm(forms.Form):
    duplicate_of = forms.ModelChoiceField(queryset=Ticket.objects.only("pk", "duplicate_of"), required=False)


class IncidentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
