from __future__ import annotations

import pytest
from django.utils import timezone

from tickets.models import Status
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_full_page_has_the_filters_and_the_list(agent_client):
    TicketFactory.create(subject="Refund for order 9", classified=True, category="billing")
    response = agent_client.get("/tickets/")
    html = response.content.decode()
    assert "<html" in html and 'id="filters"' in html and 'id="ticket-list"' in html
    assert 'hx-push-url="true"' in html and "Refund for order 9" in html
    assert "HX-Request" in response["Vary"]


def test_htmx_request_gets_only_the_list_partial(agent_client):
    TicketFactory.create(subject="Sync broken", classified=True, category="technical")
    response = agent_client.get("/tickets/?category=technical", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'id="filters"' not in html
    assert html.lstrip().startswith('<section id="ticket-list"') and "Sync broken" in html
    assert "tickets/partials/ticket_list.html" in [t.name for t in response.templates]


def test_history_restore_request_gets_the_full_page(agent_client):
    response = agent_client.get(
        "/tickets/?category=billing", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=billing", {"refund"}),
        ("priority=critical", {"outage"}),
        ("sentiment=negative", {"outage"}),
        ("status=failed", {"broken"}),
        ("source=llm", {"refund"}),
        ("team=escalation", {"outage"}),
        ("min_risk=0.8", {"outage"}),
        ("search=REFUND", {"refund"}),
        ("category=technical&priority=low", set()),
    ],
)
def test_filters(agent_client, query, expected):
    TicketFactory.create(
        subject="refund", body="", classified=True, category="billing", classification_source="llm", risk=0.2
    )
    TicketFactory.create(
        subject="outage",
        body="",
        classified=True,
        category="technical",
        priority="critical",
        sentiment="negative",
        team="escalation",
        risk=0.9,
    )
    TicketFactory.create(subject="broken", body="", failed=True)
    page = agent_client.get(f"/tickets/?{query}", HTTP_HX_REQUEST="true").context["page"]
    assert {t.subject for t in page.rows} == expected


def test_invalid_filters_are_a_400_that_says_why(agent_client):
    response = agent_client.get("/tickets/?priority=whenever&min_risk=x&page=0")
    assert response.status_code == 400
    assert "These filters are not valid" in response.content.decode()


def test_sorting_by_risk_and_oldest(agent_client):
    low = TicketFactory.create(subject="low", classified=True, risk=0.1)
    high = TicketFactory.create(subject="high", classified=True, risk=0.9)
    by_risk = agent_client.get("/tickets/?sort=risk").context["page"].rows
    oldest = agent_client.get("/tickets/?sort=oldest").context["page"].rows
    assert [t.pk for t in by_risk] == [high.pk, low.pk]
    assert [t.pk for t in oldest] == [low.pk, high.pk]


def test_pagination_without_counting(agent_client, django_assert_max_num_queries):
    TicketFactory.create_batch(30)
    # session, user, 2 permissions, the page, the highest id (new arrivals), how many match (up to a bulk
    # action's size), saved views, the session's last list, and the choices the filter and bulk forms
    # validate and render (agents, categories, teams, category names): a constant, none per row
    with django_assert_max_num_queries(20):
        first = agent_client.get("/tickets/?status=queued")
    second = agent_client.get("/tickets/?status=queued&page=2")
    assert len(first.context["page"].rows) == 25 and first.context["page"].has_next
    assert len(second.context["page"].rows) == 5 and not second.context["page"].has_next
    assert "status=queued&amp;page=2" in first.content.decode() and "Next →" in first.content.decode()
    assert "← Previous" in second.content.decode()  # the same words on every paged list


def test_list_query_count_does_not_grow_with_rows(agent_client, django_assert_max_num_queries):
    TicketFactory.create_batch(25, classified=True, assignee=UserFactory.create())
    with django_assert_max_num_queries(20):  # as above: assignees come with the page (select_related)
        response = agent_client.get("/tickets/")
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="ticket-') == 25  # every row rendered, not a refusal


def test_pending_rows_poll_and_final_rows_stop_polling(agent_client):
    queued = TicketFactory.create()
    done = TicketFactory.create(classified=True)
    pending = agent_client.get(f"/tickets/{queued.pk}/row/", HTTP_HX_REQUEST="true")
    final = agent_client.get(f"/tickets/{done.pk}/row/", HTTP_HX_REQUEST="true")
    assert pending.status_code == 200 and 'hx-trigger="every 2s"' in pending.content.decode()
    assert final.status_code == 286 and "hx-trigger" not in final.content.decode()


def test_row_of_a_ticket_that_just_got_classified_shows_its_category(agent_client):
    ticket = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now())
    ticket.status, ticket.category = Status.CLASSIFIED, "billing"
    ticket.save()
    html = agent_client.get(f"/tickets/{ticket.pk}/row/").content.decode()
    assert "Billing and payments" in html and 'data-status="classified"' in html


def test_ticket_text_cannot_inject_markup(agent_client):
    TicketFactory.create(subject='<img src=x onerror="alert(1)"><script>alert(2)</script>')
    html = agent_client.get("/tickets/").content.decode()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=" in html


def test_list_requires_login_and_permission(client, outsider):
    assert client.get("/tickets/").status_code == 302
    client.force_login(outsider)
    assert client.get("/tickets/").status_code == 403


def test_waiting_for_information_filter_and_marker(agent_client):
    TicketFactory.create(subject="Refund without order", classified=True, category="billing", missing_info=["order_id"])
    TicketFactory.create(subject="Refund with order", classified=True, category="billing")
    waiting = agent_client.get("/tickets/?info=missing").content.decode()
    assert "Refund without order" in waiting and "Refund with order" not in waiting
    assert "info needed" in waiting and 'title="Waiting for information: order id"' in waiting
    complete = agent_client.get("/tickets/?info=complete").content.decode()
    assert "Refund with order" in complete and "Refund without order" not in complete
    api = agent_client.get("/api/v1/tickets/?info=missing").json()
    assert [row["missing_info"] for row in api["results"]] == [["order_id"]]
