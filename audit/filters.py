"""The audit log's filters, shared by the API and admin's needs: by user, action and time."""

from __future__ import annotations

import django_filters

from audit.models import Action, AuditEntry


class AuditFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="actor_name", max_length=150, help_text="Username (exact).")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["user", "action", "since", "until"]
