"""The shape of `GET /api/v1/stats/`, for the OpenAPI schema and for the answer itself (the view renders
through these, so the schema cannot drift from what is sent)."""

from __future__ import annotations

from rest_framework import serializers

from tickets.stats import HOURLY_MAX_DAYS


class CountsSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    processing = serializers.IntegerField()
    failed = serializers.IntegerField()
    classified = serializers.IntegerField(
        help_text="PostgreSQL's estimate of the total, less the others, above 100,000 tickets."
    )
    total = serializers.IntegerField()


class WorkSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Open or pending tickets, counted up to `cap`.")
    unassigned = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Open or pending and past their SLA due time.")
    cap = serializers.IntegerField(help_text="Counts stop here; a count equal to it means at least that many.")


class PeriodSerializer(serializers.Serializer):
    range = serializers.CharField(help_text="today, 7d, 30d or custom.")
    first_day = serializers.DateField()
    last_day = serializers.DateField(help_text="Inclusive.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    step = serializers.ChoiceField(["hour", "day"], help_text="The step of `charts.volume` and `charts.trends`.")


class TimeToClassifySerializer(serializers.Serializer):
    n = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)
    sampled = serializers.BooleanField(help_text="True when measured over the newest 20,000 only (SQLite).")


class SummarySerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Tickets received in the period.")
    classified = serializers.IntegerField()
    llm = serializers.IntegerField(help_text="Classified tickets whose current answer is the LLM's.")
    keyword = serializers.IntegerField()
    human = serializers.IntegerField()
    llm_share = serializers.IntegerField(allow_null=True, help_text="Percent of the automatic answers.")
    keyword_share = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True, help_text="Average over the classified tickets.")
    high_risk = serializers.IntegerField(help_text="Classified tickets with risk of at least 0.7.")
    resolved = serializers.IntegerField()
    time_to_classify = TimeToClassifySerializer()


class BarSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="The value counted (a category's slug, a priority, a team, …); empty for volume."
    )
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    value = serializers.IntegerField()
    css = serializers.CharField()


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The hour's or day's start, in the server's time zone.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    value = serializers.IntegerField(help_text="Tickets received in this hour or day.")


class TrendSerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    values = serializers.ListField(child=serializers.IntegerField(), help_text="One count per `bucket_labels` entry.")


class CategoryAveragesSerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    risk = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    classified = serializers.IntegerField()


class AveragesSerializer(serializers.Serializer):
    risk = serializers.FloatField(allow_null=True, help_text="Average risk (0..1) of the period's classified tickets.")
    confidence = serializers.FloatField(
        allow_null=True, help_text="Average confidence (0..1), as `summary.confidence`."
    )
    classified = serializers.IntegerField(help_text="How many tickets the averages are over.")
    categories = CategoryAveragesSerializer(many=True, help_text="The same per current category.")


class CorrectionsSerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field "label", not Field.label
    automatic = serializers.IntegerField(help_text="Tickets the classifiers put in this category.")
    corrected = serializers.IntegerField(help_text="Of those, moved to another category by a person.")
    confirmed = serializers.IntegerField(help_text="Of those, kept by a person.")
    corrected_share = serializers.IntegerField(allow_null=True, help_text="Percent of `automatic` corrected.")


_SPLIT = "Tickets received in the period per {}, every choice listed (zeros included)."
_UNCLASSIFIED = " A ticket not classified yet is in none."


class ChartsSerializer(serializers.Serializer):
    volume = BarSerializer(many=True, help_text="Tickets received per `period.step`: the overview's column chart.")
    bucket_labels = serializers.ListField(child=serializers.CharField(), help_text="The labels of `volume`'s steps.")
    trends = TrendSerializer(many=True, help_text="Per category, tickets received per `period.step`.")
    volume_per_hour = SlotSerializer(
        many=True,
        allow_null=True,
        help_text=f"Tickets received per wall-clock hour, 24 a day, for periods of up to {HOURLY_MAX_DAYS} days "
        "(today, short custom ranges); null for longer ones.",
    )
    volume_per_day = SlotSerializer(many=True, help_text="Tickets received per day, whatever the period.")
    categories = BarSerializer(
        many=True, help_text=_SPLIT.format("current category, in the taxonomy's order") + _UNCLASSIFIED
    )
    teams = BarSerializer(
        many=True,
        help_text="Tickets received in the period per routing team (teams with tickets only)." + _UNCLASSIFIED,
    )
    priorities = BarSerializer(many=True, help_text=_SPLIT.format("priority") + _UNCLASSIFIED)
    sentiments = BarSerializer(many=True, help_text=_SPLIT.format("sentiment") + _UNCLASSIFIED)
    sources = BarSerializer(
        many=True,
        help_text=_SPLIT.format("source of the current classification (llm, keyword, human, …)") + _UNCLASSIFIED,
    )
    channels = BarSerializer(many=True, help_text=_SPLIT.format("channel"))
    averages = AveragesSerializer()
    corrections = CorrectionsSerializer(many=True, help_text="Per category: how often people corrected it.")


class StatsSerializer(serializers.Serializer):
    counts = CountsSerializer(help_text="Now: every ticket by pipeline status.")
    queue_depth = serializers.IntegerField(help_text="Now: tickets queued or being classified.")
    workers = serializers.IntegerField(help_text="Now: Celery workers with a recent heartbeat.")
    work = WorkSerializer(help_text="Now: the agents' open work.")
    period = PeriodSerializer()
    summary = SummarySerializer(help_text="The tickets received in the period.")
    charts = ChartsSerializer(help_text="Every chart the overview draws, over the period.")
