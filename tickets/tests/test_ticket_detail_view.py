from __future__ import annotations

import pytest

from classification.models import Classification
from classification.services import classify_ticket
from classification.tests.factories import ClassificationFactory
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def classified_ticket() -> Ticket:
    ticket = TicketFactory.create(
        subject="Charged twice for order #55123",
        body="I paid $20.00 twice. <script>alert('x')</script> Mail me at jo@example.com",
        customer_name="Jo",
    )
    classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def viewer_client(client):
    client.force_login(UserFactory.create(username="viewer", permissions=["tickets.view_ticket"]))
    return client


def test_detail_shows_text_classification_entities_reply_and_history(agent_client, classified_ticket):
    html = agent_client.get(f"/tickets/{classified_ticket.pk}/").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert 'data-field="category" data-value="billing">Billing and payments<' in html
    assert "keyword rules because: <strong>no LLM configured</strong>" in html
    assert "55123" in html and "$20.00" in html and "jo@example.com" in html
    assert 'data-copy="#reply-' in html and "Hi Jo" in html
    assert f'id="ticket-{classified_ticket.pk}-classification"' in html
    assert "History" in html and "Save correction" in html


def test_pending_classification_polls_and_final_one_stops(agent_client, classified_ticket):
    queued = TicketFactory.create()
    pending = agent_client.get(f"/tickets/{queued.pk}/classification/", HTTP_HX_REQUEST="true")
    final = agent_client.get(f"/tickets/{classified_ticket.pk}/classification/", HTTP_HX_REQUEST="true")
    assert pending.status_code == 200 and 'hx-trigger="every 2s"' in pending.content.decode()
    assert "Waiting for the worker" in pending.content.decode()
    assert final.status_code == 286 and "<html" not in final.content.decode()


def test_correction_through_htmx_saves_a_human_classification_and_shows_it(agent_client, agent, classified_ticket):
    response = agent_client.post(
        f"/tickets/{classified_ticket.pk}/correct/",
        {"category": "account", "priority": "high", "sentiment": "negative", "team": "accounts"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'data-value="account">Account and login<' in html and f"by {agent.username}" in html
    assert response["HX-Trigger"] == f'{{"ticketCorrected": {{"id": {classified_ticket.pk}}}}}'
    classified_ticket.refresh_from_db()
    assert (classified_ticket.category, classified_ticket.classification_source) == ("account", "human")
    assert Classification.objects.filter(ticket=classified_ticket, source="human", author=agent).count() == 1


def test_correction_without_javascript_redirects_to_the_ticket(agent_client, classified_ticket):
    response = agent_client.post(
        f"/tickets/{classified_ticket.pk}/correct/",
        {"category": "general", "priority": "low", "sentiment": "neutral", "team": "frontline"},
    )
    assert response.status_code == 302 and response["Location"] == f"/tickets/{classified_ticket.pk}/"
    classified_ticket.refresh_from_db()
    assert classified_ticket.category == "general"


def test_invalid_correction_is_a_422_with_the_form_errors(agent_client, classified_ticket):
    response = agent_client.post(
        f"/tickets/{classified_ticket.pk}/correct/",
        {"category": "nonsense", "priority": "high", "sentiment": "negative", "team": "accounts"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert not Classification.objects.filter(ticket=classified_ticket, source="human").exists()


def test_a_viewer_cannot_correct_reclassify_or_retry(viewer_client, classified_ticket):
    url = f"/tickets/{classified_ticket.pk}/"
    assert "Save correction" not in viewer_client.get(url).content.decode()
    data = {"category": "account", "priority": "high", "sentiment": "negative", "team": "accounts"}
    assert viewer_client.post(url + "correct/", data).status_code == 403
    assert viewer_client.post(url + "reclassify/").status_code == 403
    assert viewer_client.post(url + "retry/").status_code == 403
    classified_ticket.refresh_from_db()
    assert classified_ticket.classification_source == "keyword"


def test_reclassify_queues_the_ticket_and_the_block_starts_polling(
    agent_client, classified_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(f"/tickets/{classified_ticket.pk}/reclassify/", HTTP_HX_REQUEST="true")
    classified_ticket.refresh_from_db()
    assert classified_ticket.status == Status.QUEUED and len(callbacks) == 1
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_retry_only_requeues_failed_tickets(agent_client, classified_ticket):
    failed = TicketFactory.create(failed=True)
    agent_client.post(f"/tickets/{failed.pk}/retry/")
    agent_client.post(f"/tickets/{classified_ticket.pk}/retry/")
    failed.refresh_from_db()
    classified_ticket.refresh_from_db()
    assert failed.status == Status.QUEUED and failed.last_error == ""
    assert classified_ticket.status == Status.CLASSIFIED


def test_failed_ticket_shows_its_error_and_a_retry_button(agent_client):
    failed = TicketFactory.create(failed=True)
    html = agent_client.get(f"/tickets/{failed.pk}/").content.decode()
    assert "OperationalError: database is locked" in html and ">Retry</button>" in html


def test_detail_requires_login_and_permission_and_404s_unknown(client, outsider, agent_client, classified_ticket):
    assert client.get(f"/tickets/{classified_ticket.pk}/").status_code == 302
    client.force_login(outsider)
    assert client.get(f"/tickets/{classified_ticket.pk}/").status_code == 403
    assert agent_client.get("/tickets/99999/").status_code == 404


def test_detail_query_count_is_bounded(agent_client, classified_ticket, django_assert_max_num_queries):
    for _ in range(5):
        ClassificationFactory.create(ticket=classified_ticket, priority="low", risk=0.1, confidence=0.3)
    # session, user, 2 permissions, the ticket, its history, its activity, the taxonomy's routing and
    # choices (category, team), the agents to assign to, category names; the similar tickets' panel: the
    # incident banner, the incident membership, the stored links both ways, and (none stored yet) the text
    # search, its candidates and the same customer's recent tickets; the customer panel: the customer and
    # their context's two aggregate queries
    with django_assert_max_num_queries(25):
        response = agent_client.get(f"/tickets/{classified_ticket.pk}/")
    assert response.status_code == 200
    assert len(response.context["history"]) == classified_ticket.classifications.count() == 6


def test_detail_shows_the_richer_answer_and_what_is_missing(agent_client):
    ticket = TicketFactory.create(
        subject="Refund and login problem",
        body="I was charged twice for my subscription and want a refund. Also I cannot log in. This is urgent!",
        customer_name="Jo",
    )
    classify_ticket(ticket.pk)
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Waiting for information</span> order id" in page
    assert "<strong>Why.</strong> Filed as billing because it mentions" in page
    assert 'data-field="urgency"><q>' in page and "urgent</q>" in page
    assert 'data-field="secondary">Account and login' in page
    assert 'data-field="alternatives">' in page
    assert 'Suggested reply <small class="muted">· friendly</small>' in page
    assert "could you send us your order number?" in page
