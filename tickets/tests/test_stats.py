from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tickets import stats
from tickets.tests.factories import TicketFactory
from workers import heartbeat

pytestmark = pytest.mark.django_db


def _bars(bars):
    return {bar.label: bar.value for bar in bars}


def test_charts_count_by_category_priority_and_sentiment_over_seven_days():
    now = timezone.now()
    TicketFactory.create(classified=True, category="billing", priority="high", sentiment="negative", created=now)
    TicketFactory.create(classified=True, category="billing", priority="low", sentiment="neutral", created=now)
    TicketFactory.create(classified=True, category="account", priority="high", sentiment="neutral", created=now)
    TicketFactory.create(classified=True, category="account", created=now - timedelta(days=8))  # outside
    TicketFactory.create(created=now)  # not classified yet
    charts = stats.charts(["technical", "billing", "account"])
    assert _bars(charts["categories"]) == {"technical": 0, "billing": 2, "account": 1}
    assert _bars(charts["priorities"]) == {"critical": 0, "high": 2, "medium": 0, "low": 1}
    assert _bars(charts["sentiments"]) == {"negative": 1, "neutral": 2, "positive": 0}


def test_volume_buckets_per_hour_and_per_day_oldest_first():
    now = timezone.localtime()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    TicketFactory.create(created=this_hour + timedelta(seconds=1))
    TicketFactory.create(created=this_hour - timedelta(minutes=30))  # the previous hour
    TicketFactory.create(created=this_hour - timedelta(hours=30))  # outside the 24 h chart
    charts = stats.charts([])
    per_hour = [bar.value for bar in charts["per_hour"]]
    assert len(per_hour) == 24 and per_hour[-1] == 1 and per_hour[-2] == 1 and sum(per_hour) == 2
    assert charts["per_hour"][-1].label == this_hour.strftime("%H:00")
    per_day = charts["per_day"]
    assert len(per_day) == 7 and sum(bar.value for bar in per_day) == 3
    assert per_day[-1].label == now.strftime("%a %d")


def test_overview_counts_and_recent_summary():
    TicketFactory.create_batch(2, classified=True, classification_source="llm", confidence=0.9, risk=0.8)
    TicketFactory.create(classified=True, confidence=0.3)
    TicketFactory.create(failed=True)
    TicketFactory.create()
    heartbeat.beat("celery@one", pid=1, started_at=timezone.now())
    figures = stats.overview()
    assert figures["counts"] == {"queued": 1, "processing": 0, "failed": 1, "classified": 3, "total": 5}
    assert figures["queue_depth"] == 1
    assert figures["workers"] == 1
    recent = figures["recent"]
    assert (recent["llm"], recent["keyword"], recent["high_risk"]) == (2, 1, 2)
    assert (recent["llm_share"], recent["keyword_share"]) == (67, 33)
    assert recent["confidence"] == pytest.approx(0.7)
