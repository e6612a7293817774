from __future__ import annotations

import pytest

from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_overview_shows_stat_cards_charts_and_breaker(agent_client):
    TicketFactory.create_batch(3, classified=True, category="billing", priority="high", risk=0.9)
    TicketFactory.create(failed=True)
    TicketFactory.create()
    html = agent_client.get("/").content.decode()
    assert 'id="stats"' in html and 'id="charts"' in html and 'id="breaker-badge"' in html
    assert "Queue depth" in html and "High risk, 24 h" in html and "Avg confidence" in html
    assert "Tickets per category, 7 days" in html and "<svg" in html
    assert 'class="bar prio-high"' in html  # the high-priority bar is drawn
    assert "LLM off" in html  # no LLM configured in tests


def test_stats_fragment_is_the_partial_alone(agent_client):
    TicketFactory.create_batch(2, failed=True)
    response = agent_client.get("/stats/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="stats"') and "<html" not in html
    assert [t.name for t in response.templates] == [
        "tickets/partials/stats.html",
        "tickets/partials/breaker_state.html",
    ]


def test_charts_and_breaker_fragments_render_alone(agent_client):
    charts = agent_client.get("/charts/", HTTP_HX_REQUEST="true").content.decode()
    badge = agent_client.get("/breaker/", HTTP_HX_REQUEST="true").content.decode()
    assert charts.lstrip().startswith('<section id="charts"') and "<html" not in charts
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
    # session, user, permissions (2), status counts, total, workers, 24 h summary, categories, 3 grouped, 2 volumes
    with django_assert_max_num_queries(15):
        response = agent_client.get("/")
    assert response.status_code == 200
    assert response.context["stats"]["counts"]["total"] == 40  # the page rendered its figures, not a refusal
