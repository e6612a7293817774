from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classification.models import Classification
from tickets.models import Status
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_review_lists_keyword_and_low_confidence_tickets_oldest_first(agent_client):
    now = timezone.now()
    newer_keyword = TicketFactory.create(classified=True, created=now - timedelta(hours=1))
    older_low_llm = TicketFactory.create(
        classified=True, classification_source="llm", confidence=0.3, created=now - timedelta(days=1)
    )
    TicketFactory.create(classified=True, classification_source="llm", confidence=0.95)  # sure enough
    TicketFactory.create(classified=True, classification_source="human", confidence=1.0)  # a person decided
    page = agent_client.get("/review/").context["page"]
    assert [t.pk for t in page.rows] == [older_low_llm.pk, newer_keyword.pk]


def test_confirming_from_review_records_the_same_values_and_removes_the_row(agent_client, agent):
    ticket = TicketFactory.create(classified=True, category="billing", priority="high", team="billing")
    response = agent_client.post(
        f"/tickets/{ticket.pk}/correct/",
        {"from": "review", "category": "billing", "priority": "high", "sentiment": "neutral", "team": "billing"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response.content == b""
    ticket.refresh_from_db()
    assert ticket.classification_source == "human" and ticket.category == "billing"
    assert Classification.objects.get(ticket=ticket).author == agent
    assert ticket not in agent_client.get("/review/").context["page"].rows


def test_review_htmx_gets_the_rows_partial(agent_client):
    TicketFactory.create(classified=True)
    html = agent_client.get("/review/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="review-rows"') and "<html" not in html


def test_failed_view_lists_errors_and_retry_all_requeues(agent_client, django_capture_on_commit_callbacks):
    failed = TicketFactory.create_batch(3, failed=True)
    TicketFactory.create(classified=True)
    html = agent_client.get("/failed/").content.decode()
    assert html.count("OperationalError: database is locked") == 3 and "Retry all" in html
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post("/failed/retry-all/")
    assert response.status_code == 302 and response["Location"] == "/failed/"
    assert all(t.status == Status.QUEUED for t in (t.__class__.objects.get(pk=t.pk) for t in failed))
    assert len(callbacks) == 1


def test_retry_all_needs_the_change_permission(client):
    TicketFactory.create(failed=True)
    client.force_login(UserFactory.create(username="reader", permissions=["tickets.view_ticket"]))
    assert client.post("/failed/retry-all/").status_code == 403
    assert client.get("/failed/").status_code == 200


def test_review_and_failed_require_login(client, outsider):
    for url in ("/review/", "/failed/"):
        assert client.get(url).status_code == 302
    client.force_login(outsider)
    assert client.get("/review/").status_code == 403 and client.get("/failed/").status_code == 403
