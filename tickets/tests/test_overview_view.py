from __future__ import annotations

import pytest

from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_overview_lists_latest_tickets_with_status_and_category(agent_client):
    TicketFactory.create(subject="Refund for order 1", classified=True, category="billing")
    TicketFactory.create(subject="Cannot log in")
    response = agent_client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Refund for order 1" in html and "billing" in html and "Queued" in html
    assert "<html" in html


def test_overview_htmx_request_gets_only_the_rows(agent_client):
    TicketFactory.create(subject="Sync broken")
    response = agent_client.get("/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Sync broken" in html and "<html" not in html
    assert next(t.name for t in response.templates) == "tickets/partials/ticket_rows.html"
    assert "HX-Request" in response["Vary"]


def test_overview_redirects_anonymous_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_overview_forbids_users_without_ticket_permission(client, outsider):
    client.force_login(outsider)
    assert client.get("/").status_code == 403


def test_ticket_text_is_escaped(agent_client):
    TicketFactory.create(subject="<script>alert(1)</script>")
    html = agent_client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_overview_query_count_is_bounded(agent_client, django_assert_max_num_queries):
    TicketFactory.create_batch(30)
    # session, user, user and group permissions, tickets: the same for 30 rows as for 3
    with django_assert_max_num_queries(5):
        agent_client.get("/")
