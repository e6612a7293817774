"""The ticket filters, shared by the API list and the dashboard list."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from classification.taxonomy import category_choices, team_choices
from tickets.models import Channel, Priority, Sentiment, Source, Status, Ticket


class TicketFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=category_choices, empty_label="any")
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="any")
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices, empty_label="any")
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="any")
    source = django_filters.ChoiceFilter(field_name="classification_source", choices=Source.choices, empty_label="any")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="any")
    team = django_filters.ChoiceFilter(choices=team_choices, empty_label="any")
    min_risk = django_filters.NumberFilter(field_name="risk", lookup_expr="gte", min_value=0, max_value=1)
    search = django_filters.CharFilter(method="filter_search", max_length=200)

    class Meta:
        model = Ticket
        fields = ["category", "priority", "sentiment", "status", "source", "channel", "team", "min_risk", "search"]

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(subject__icontains=value) | Q(body__icontains=value))
