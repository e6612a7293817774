from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_overview_shows_now_the_period_charts_and_breaker(agent_client):
    TicketFactory.create_batch(3, classified=True, category="billing", priority="high", risk=0.9)
    TicketFactory.create(failed=True)
    TicketFactory.create()
    html = agent_client.get("/").content.decode()
    assert 'id="stats"' in html and 'id="charts"' in html and 'id="breaker-badge"' in html
    assert "Now <span" in html and "Last 7 days <span" in html  # which cards are now and which are the period
    assert "Open work" in html and "Overdue" in html and "Time to classify" in html
    assert "Tickets received per day" in html and "Categories over time" in html and "Corrected by people" in html
    assert 'class="fill prio-high" style="width: 100.0%"' in html  # the high-priority bar is drawn
    assert "LLM off" in html  # no LLM configured in tests


def test_overview_shows_team_source_and_channel_bars_and_the_averages(agent_client):
    TicketFactory.create(
        classified=True, category="billing", team="escalation", channel="phone", risk=0.9, confidence=0.4
    )
    html = agent_client.get("/charts/?range=today", HTTP_HX_REQUEST="true").content.decode()
    assert "Per team" in html and "Classified by" in html and "Per channel" in html
    assert (
        '<span class="bar-label">escalation</span>' in html and 'class="fill chan-phone" style="width: 100.0%"' in html
    )
    assert 'class="fill src-keyword" style="width: 100.0%"' in html  # the factory's classifications are keyword ones
    assert "Average risk" in html and 'class="fill avg-risk" style="width: 90.0%"' in html
    assert 'class="fill avg-confidence" style="width: 40.0%"' in html and "0.90" in html


def test_overview_today_is_hourly_and_a_custom_range_is_per_day(agent_client):
    today = agent_client.get("/?range=today").content.decode()
    assert "Tickets received per hour" in today and "aria-current" in today
    start = (timezone.localdate() - timedelta(days=2)).isoformat()
    custom = agent_client.get(f"/?range=custom&start={start}&end={timezone.localdate().isoformat()}")
    assert custom.status_code == 200 and "Tickets received per day" in custom.content.decode()
    assert len(custom.context["charts"]["volume"]) == 3


def test_an_invalid_range_is_a_400_that_says_why(agent_client):
    response = agent_client.get("/?range=custom&start=2026-12-05&end=2026-11-01")
    assert response.status_code == 400 and "The range ends before it starts." in response.content.decode()
    assert agent_client.get("/?range=custom&start=2025-01-01&end=2026-01-01").status_code == 400  # too long


def test_stats_fragment_is_the_partial_alone_and_keeps_the_period(agent_client):
    TicketFactory.create_batch(2, failed=True)
    response = agent_client.get("/stats/?range=30d", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="stats"') and "<html" not in html
    assert 'hx-get="/stats/?range=30d"' in html and "Last 30 days" in html


def test_charts_and_breaker_fragments_render_alone(agent_client):
    charts = agent_client.get("/charts/?range=today", HTTP_HX_REQUEST="true").content.decode()
    badge = agent_client.get("/breaker/", HTTP_HX_REQUEST="true").content.decode()
    assert charts.lstrip().startswith('<section id="charts"') and "<html" not in charts
    assert 'hx-get="/charts/?range=today"' in charts
    assert badge.lstrip().startswith('<a id="breaker-badge"') and "<html" not in badge


def test_overview_redirects_anonymous_to_login(client):
    for url in ("/", "/stats/", "/charts/", "/breaker/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_overview_forbids_users_without_ticket_permission(client, outsider):
    client.force_login(outsider)
    assert client.get("/").status_code == 403
    assert client.get("/stats/").status_code == 403


def test_overview_queries_do_not_grow_with_tickets(agent_client, django_assert_max_num_queries):
    TicketFactory.create_batch(40, classified=True)
    # session, user, 2 permissions; status counts, total, workers; open, unassigned, overdue; the period's
    # summary and time to classify; one grouped scan for the charts, 2 for corrections; the taxonomy; on
    # PostgreSQL the scan's savepoint, release, and sorting turned off and back on around it; the period's
    # confirmed duplicates (their count, and their grouped scan for the charts); the incident banner
    with django_assert_max_num_queries(23):
        response = agent_client.get("/?range=30d")
    assert response.status_code == 200
    assert response.context["stats"]["counts"]["total"] == 40  # the page rendered its figures, not a refusal
