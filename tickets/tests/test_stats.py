from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from classification.models import Classification
from classification.services import record_correction
from tickets import stats
from tickets.models import WorkState
from tickets.tests.factories import TicketFactory, UserFactory
from workers import heartbeat

pytestmark = pytest.mark.django_db

CATEGORIES = [("technical", "Technical issue"), ("billing", "Billing and payments"), ("account", "Account and login")]


def _bars(bars):
    return {bar.label: bar.value for bar in bars}


def _week() -> stats.Period:
    today = timezone.localdate()
    return stats.Period("7d", today - timedelta(days=6), today)


def test_charts_count_by_category_priority_and_sentiment_over_the_period():
    now = timezone.now()
    TicketFactory.create(classified=True, category="billing", priority="high", sentiment="negative", created=now)
    TicketFactory.create(classified=True, category="billing", priority="low", sentiment="neutral", created=now)
    TicketFactory.create(classified=True, category="account", priority="high", sentiment="neutral", created=now)
    TicketFactory.create(classified=True, category="account", created=now - timedelta(days=8))  # outside
    TicketFactory.create(created=now)  # not classified yet: counted in the volume only
    charts = stats.charts(_week(), CATEGORIES)
    assert _bars(charts["categories"]) == {"Technical issue": 0, "Billing and payments": 2, "Account and login": 1}
    assert _bars(charts["priorities"]) == {"Critical": 0, "High": 2, "Medium": 0, "Low": 1}
    assert _bars(charts["sentiments"]) == {"Negative": 1, "Neutral": 2, "Positive": 0}
    assert sum(bar.value for bar in charts["volume"]) == 4


def test_a_single_day_is_charted_per_hour_and_longer_periods_per_day():
    today = timezone.localdate()
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    TicketFactory.create(created=midnight + timedelta(minutes=5))  # 00:xx
    TicketFactory.create(created=midnight + timedelta(hours=9, minutes=59))  # 09:xx
    TicketFactory.create(created=midnight - timedelta(minutes=1))  # yesterday: not today
    day = stats.charts(stats.Period("today", today, today), [])
    assert len(day["volume"]) == 24 and day["volume"][0].label == "00:00"
    assert day["volume"][0].value == 1 and day["volume"][9].value == 1 and sum(b.value for b in day["volume"]) == 2
    week = stats.charts(_week(), [])
    assert len(week["volume"]) == 7 and week["volume"][-1].value == 2 and week["volume"][-2].value == 1


def test_trends_give_each_category_a_point_per_day():
    now = timezone.now()
    TicketFactory.create(classified=True, category="billing", created=now)
    TicketFactory.create(classified=True, category="billing", created=now - timedelta(days=2))
    TicketFactory.create(classified=True, category="technical", created=now - timedelta(days=2))
    trends = {series["category"]: series["values"] for series in stats.charts(_week(), CATEGORIES)["trends"]}
    assert trends["billing"] == [0, 0, 0, 0, 1, 0, 1]
    assert trends["technical"] == [0, 0, 0, 0, 1, 0, 0]
    assert trends["account"] == [0] * 7


def test_charts_split_by_team_source_and_channel():
    now = timezone.now()
    TicketFactory.create(classified=True, team="billing", classification_source="llm", channel="email", created=now)
    TicketFactory.create(classified=True, team="billing", classification_source="human", channel="chat", created=now)
    TicketFactory.create(classified=True, team="escalation", classification_source="llm", channel="email", created=now)
    TicketFactory.create(channel="web", created=now)  # not classified yet: a channel, but no team or source
    charts = stats.charts(_week(), CATEGORIES)
    assert _bars(charts["teams"]) == {"billing": 2, "escalation": 1}
    assert _bars(charts["sources"]) == {"LLM": 2, "Fallback LLM": 0, "Learned model": 0, "Keyword rules": 0, "Human": 1}
    assert _bars(charts["channels"]) == {"Email": 2, "Chat": 1, "Phone": 0, "Web": 1, "API": 0}
    assert (charts["sources"][0].key, charts["sources"][0].css) == ("llm", "src-llm")


def test_averages_of_risk_and_confidence_are_over_classified_tickets_in_all_and_per_category():
    now = timezone.now()
    TicketFactory.create(classified=True, category="billing", risk=0.9, confidence=0.8, created=now)
    TicketFactory.create(classified=True, category="billing", risk=0.5, confidence=0.6, created=now)
    TicketFactory.create(classified=True, category="account", risk=0.1, confidence=0.4, created=now)
    TicketFactory.create(category="account", risk=1.0, confidence=0.0, created=now)  # being reclassified: left out
    averages = stats.charts(_week(), CATEGORIES)["averages"]
    assert (averages["risk"], averages["confidence"], averages["classified"]) == (0.5, 0.6, 3)
    rows = {row["category"]: row for row in averages["categories"]}
    assert rows["billing"] == {
        "category": "billing",
        "label": "Billing and payments",
        "risk": 0.7,
        "confidence": 0.7,
        "classified": 2,
    }
    assert (rows["account"]["risk"], rows["account"]["classified"]) == (0.1, 1)
    assert rows["technical"] == {
        "category": "technical",
        "label": "Technical issue",
        "risk": None,
        "confidence": None,
        "classified": 0,
    }
    assert averages["confidence"] == pytest.approx(stats.period_summary(_week())["confidence"])  # the card's figure


def test_volume_is_given_per_hour_and_per_day_for_short_periods_and_per_day_for_long_ones():
    today = timezone.localdate()
    midnight = timezone.make_aware(datetime.combine(today, time.min))
    TicketFactory.create(created=midnight + timedelta(minutes=5))  # today 00:xx
    TicketFactory.create(created=midnight - timedelta(minutes=1))  # yesterday 23:xx
    TicketFactory.create(created=midnight - timedelta(days=1, hours=-2))  # yesterday 02:00
    two_days = stats.charts(stats.Period("custom", today - timedelta(days=1), today), [])
    hours = two_days["volume_per_hour"]
    assert len(hours) == 48 and (hours[2].value, hours[23].value, hours[24].value) == (1, 1, 1)
    assert sum(slot.value for slot in hours) == 3 and hours[24].start == midnight
    assert [slot.value for slot in two_days["volume_per_day"]] == [2, 1]
    assert [bar.value for bar in two_days["volume"]] == [2, 1]  # charted per day, counted per hour
    assert [series["values"] for series in two_days["trends"]] == []
    week = stats.charts(_week(), [])
    assert week["volume_per_hour"] is None and [slot.value for slot in week["volume_per_day"]][-2:] == [2, 1]
    day = stats.charts(stats.Period("today", today, today), [])
    assert len(day["volume_per_hour"]) == 24 and [(s.start, s.value) for s in day["volume_per_day"]] == [(midnight, 1)]


def test_the_charts_read_the_periods_tickets_in_one_grouped_scan():
    TicketFactory.create_batch(3, classified=True)
    with CaptureQueriesContext(connection) as queries:
        stats._charts(_week(), CATEGORIES)
    scans = [q["sql"] for q in queries.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
    # The period's scan, and the confirmed duplicates' (a handful of rows from their own index) taken off.
    assert len(scans) == 2 and all("GROUP BY" in sql for sql in scans)
    assert "duplicate_of_id" in scans[1] and "duplicate_of_id" not in scans[0]


def test_corrections_per_category_count_changes_away_from_the_automatic_answer():
    agent = UserFactory.create()
    wrong = TicketFactory.create(classified=True, category="billing", classification_source="keyword")
    right = TicketFactory.create(classified=True, category="billing", classification_source="keyword")
    for ticket in (wrong, right):
        Classification.objects.create(
            ticket=ticket,
            source="keyword",
            category="billing",
            priority="medium",
            sentiment="neutral",
            risk=0.1,
            team="billing",
            confidence=0.5,
        )
    record_correction(wrong, agent, {"category": "account"})  # a correction away from billing
    record_correction(right, agent, {})  # a confirmation
    rows = {row["category"]: row for row in stats.corrections(_week(), CATEGORIES)}
    assert rows["billing"] == {
        "category": "billing",
        "label": "Billing and payments",
        "automatic": 2,
        "corrected": 1,
        "confirmed": 1,
        "corrected_share": 50,
    }
    assert rows["account"]["automatic"] == 0 and rows["account"]["corrected_share"] is None


def test_time_to_classify_is_the_median_and_90th_percentile_from_receipt():
    now = timezone.now()
    for seconds in (1, 2, 3, 4, 100):
        TicketFactory.create(
            created=now - timedelta(minutes=5),
            first_classified_at=now - timedelta(minutes=5) + timedelta(seconds=seconds),
        )
    TicketFactory.create(created=now)  # not classified yet
    figures = stats.time_to_classify(_week())
    assert figures == {"n": 5, "median_seconds": 3.0, "p90_seconds": 100.0, "sampled": False}


def test_open_work_counts_open_unassigned_and_overdue_and_stops_at_the_cap(monkeypatch):
    now = timezone.now()
    agent = UserFactory.create()
    TicketFactory.create(classified=True, due_at=now - timedelta(hours=1))  # overdue, unassigned
    TicketFactory.create(classified=True, due_at=now + timedelta(hours=1), assignee=agent)
    TicketFactory.create(classified=True, due_at=now - timedelta(hours=1), state=WorkState.PENDING, assignee=agent)
    TicketFactory.create(classified=True, due_at=now - timedelta(hours=9), state=WorkState.RESOLVED)  # done
    assert stats.open_work() == {"open": 3, "unassigned": 1, "overdue": 2, "cap": stats.CAP}
    monkeypatch.setattr(stats, "CAP", 2)
    assert stats.open_work()["open"] == 2


def test_overview_has_now_and_the_period():
    TicketFactory.create_batch(2, classified=True, classification_source="llm", confidence=0.9, risk=0.8)
    TicketFactory.create(classified=True, confidence=0.3)
    TicketFactory.create(failed=True)
    TicketFactory.create()
    heartbeat.beat("celery@one", pid=1, started_at=timezone.now())
    figures = stats.overview(_week())
    assert figures["counts"] == {"queued": 1, "processing": 0, "failed": 1, "classified": 3, "total": 5}
    assert figures["queue_depth"] == 1 and figures["workers"] == 1
    assert figures["period"]["range"] == "7d" and figures["period"]["step"] == "day"
    summary = figures["summary"]
    assert (summary["received"], summary["llm"], summary["keyword"], summary["high_risk"]) == (5, 2, 1, 2)
    assert (summary["llm_share"], summary["keyword_share"]) == (67, 33)
    assert summary["confidence"] == pytest.approx(0.7)


def test_period_labels_and_bounds_follow_the_server_time_zone():
    period = stats.Period("custom", date(2026, 11, 1), date(2026, 11, 15))
    assert period.days == 15 and not period.hourly and period.label == "1 Nov – 15 Nov 2026"
    assert period.start.date().isoformat() == "2026-11-01" and period.end.date().isoformat() == "2026-11-16"
    assert len(period.buckets()) == 15
