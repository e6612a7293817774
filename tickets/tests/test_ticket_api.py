from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classification.tests.factories import ClassificationFactory
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


@pytest.fixture
def mocker_publish(monkeypatch):
    """Record what would be published to the broker (the real publish is covered end to end)."""
    calls = []
    monkeypatch.setattr(
        "tickets.services.publish_classification", lambda ids, force=False: calls.append((ids, {"force": force}))
    )
    return calls


def test_create_answers_202_with_queued_ticket_and_status_url(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post(URL, {"subject": "Refund please", "body": "Charged twice"}, format="json")
    assert response.status_code == 202
    ticket = Ticket.objects.get()
    assert response.data["id"] == ticket.pk
    assert response.data["status"] == "queued"
    assert response.data["status_url"].endswith(f"/api/v1/tickets/{ticket.pk}/")
    assert response["Location"] == response.data["status_url"]
    assert len(callbacks) == 1  # classification is published only once the row is committed


def test_create_publishes_classification_on_commit(api_client, django_capture_on_commit_callbacks, mocker_publish):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, {"body": "My invoice is wrong"}, format="json")
    assert mocker_publish == [([response.data["id"]], {"force": False})]


def test_anonymous_request_is_refused_with_envelope():
    response = APIClient().post(URL, {"body": "hello"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["X-Request-Id"] == response.json()["error"]["request_id"]
    assert Ticket.objects.count() == 0


def test_user_without_ticket_permissions_cannot_list_or_create(outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"body": "hi"}, format="json").status_code == 403
    assert Ticket.objects.count() == 0


def test_validation_error_names_the_field_and_why(api_client):
    response = api_client.post(URL, {"subject": "x" * 501, "channel": "fax"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "subject" in error["details"] and "500" in error["details"]["subject"][0]
    assert "channel" in error["details"] and "fax" in error["details"]["channel"][0]
    assert Ticket.objects.count() == 0


def test_body_over_20000_characters_is_refused_not_truncated(api_client):
    response = api_client.post(URL, {"body": "a" * 20_001}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()["error"]["details"]
    assert Ticket.objects.count() == 0


def test_empty_ticket_is_refused(api_client):
    response = api_client.post(URL, {"subject": "  ", "body": ""}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()["error"]["details"]


def test_request_body_over_the_size_limit_is_refused_with_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client.post(URL, {"body": "b" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert Ticket.objects.count() == 0


def test_malformed_json_is_a_400(api_client):
    response = api_client.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_resending_the_same_external_id_creates_nothing_new(api_client):
    payload = {"body": "Where is my order?", "channel": "email", "external_id": "zendesk-42"}
    first = api_client.post(URL, payload, format="json")
    second = api_client.post(URL, payload, format="json")
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.data["id"] == first.data["id"]
    assert Ticket.objects.count() == 1


def test_same_external_id_on_another_channel_is_another_ticket(api_client):
    api_client.post(URL, {"body": "a", "channel": "email", "external_id": "7"}, format="json")
    api_client.post(URL, {"body": "a", "channel": "chat", "external_id": "7"}, format="json")
    assert Ticket.objects.count() == 2


def test_list_filters_combine(api_client):
    # Bodies set: the factory's random demo text may itself mention a refund.
    TicketFactory.create(classified=True, category="billing", priority="high", subject="Refund for order 1", body="x")
    TicketFactory.create(classified=True, category="billing", priority="low", subject="Invoice copy", body="y")
    TicketFactory.create(
        classified=True, category="technical", priority="high", subject="Refund page crashes", body="z"
    )
    response = api_client.get(URL, {"category": "billing", "priority": "high"})
    assert [t["subject"] for t in response.data["results"]] == ["Refund for order 1"]
    response = api_client.get(URL, {"search": "refund"})
    assert {t["subject"] for t in response.data["results"]} == {"Refund for order 1", "Refund page crashes"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"failed one"}),
        ({"sentiment": "negative"}, {"angry one"}),
        ({"source": "human"}, {"human one"}),
        ({"team": "billing"}, {"angry one"}),
        ({"min_risk": "0.7"}, {"angry one"}),
        ({"channel": "chat"}, {"human one"}),
    ],
)
def test_list_filters_each_field(api_client, params, expected):
    TicketFactory.create(subject="failed one", failed=True, channel="email")
    TicketFactory.create(
        subject="angry one", classified=True, sentiment="negative", team="billing", risk=0.9, channel="email"
    )
    TicketFactory.create(subject="human one", classified=True, classification_source="human", channel="chat")
    response = api_client.get(URL, params)
    assert {t["subject"] for t in response.data["results"]} == expected


def test_invalid_filter_value_is_a_400(api_client):
    response = api_client.get(URL, {"priority": "whenever", "min_risk": "lots"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"priority", "min_risk"}


def test_an_assignee_with_a_nul_byte_is_a_400_not_a_database_error(api_client):
    response = api_client.get(URL, {"assignee": "\x00x"})
    assert response.status_code == 400 and set(response.json()["error"]["details"]) == {"assignee"}


def test_list_paginates_with_a_cursor_newest_first(api_client):
    TicketFactory.create_batch(5)
    first = api_client.get(URL, {"page_size": 2})
    second = api_client.get(first.data["next"])
    ids_first = [t["id"] for t in first.data["results"]]
    ids_second = [t["id"] for t in second.data["results"]]
    assert len(ids_first) == 2 and len(ids_second) == 2
    assert ids_first == sorted(ids_first, reverse=True)
    assert max(ids_second) < min(ids_first)
    assert "body" not in first.data["results"][0]


def test_list_query_count_does_not_grow_with_rows(api_client, django_assert_max_num_queries):
    TicketFactory.create_batch(30)
    with django_assert_max_num_queries(4):  # auth token, user perms, page
        response = api_client.get(URL)
    assert len(response.data["results"]) == 25


def test_detail_shows_ticket_with_history_newest_first(api_client):
    ticket = TicketFactory.create(classified=True, body="Full body text")
    older = ClassificationFactory.create(ticket=ticket, priority="low", risk=0.1, confidence=0.3)
    newer = ClassificationFactory.create(
        ticket=ticket, source="human", category="billing", priority="high", risk=0.1, team="billing", confidence=1.0
    )
    response = api_client.get(f"{URL}{ticket.pk}/")
    assert response.status_code == 200
    assert response.data["body"] == "Full body text"
    assert [c["id"] for c in response.data["classifications"]] == [newer.pk, older.pk]


def test_a_cursor_that_cannot_be_read_is_a_400_naming_it(api_client):
    response = api_client.get(URL, {"cursor": "closed"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor"]}


def test_detail_of_unknown_ticket_is_404_envelope(api_client):
    response = api_client.get(f"{URL}999999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_bulk_creates_all_and_answers_202(api_client, django_capture_on_commit_callbacks):
    payload = {"tickets": [{"subject": f"Ticket {i}", "body": "Payment failed"} for i in range(50)]}
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post(f"{URL}bulk/", payload, format="json")
    assert response.status_code == 202
    assert response.data["created"] == 50
    assert Ticket.objects.filter(status=Status.QUEUED).count() == 50
    assert len(callbacks) == 1  # one publish callback for the whole batch


def test_bulk_with_one_invalid_ticket_saves_nothing_and_names_the_index(api_client):
    payload = {"tickets": [{"body": "fine"}, {"body": "fine"}, {"channel": "pigeon", "body": "x"}]}
    response = api_client.post(f"{URL}bulk/", payload, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]["tickets"]
    assert "2" in details and "channel" in details["2"]
    assert Ticket.objects.count() == 0


def test_bulk_accepts_1000_and_refuses_1001(api_client):
    ok = api_client.post(f"{URL}bulk/", {"tickets": [{"body": "hello"}] * 1000}, format="json")
    too_many = api_client.post(f"{URL}bulk/", {"tickets": [{"body": "hello"}] * 1001}, format="json")
    assert ok.status_code == 202
    assert too_many.status_code == 400
    assert Ticket.objects.count() == 1000


def test_bulk_skips_already_received_external_ids(api_client):
    TicketFactory.create(channel="email", external_id="e-1")
    payload = {
        "tickets": [
            {"body": "a", "channel": "email", "external_id": "e-1"},
            {"body": "b", "channel": "email", "external_id": "e-2"},
        ]
    }
    response = api_client.post(f"{URL}bulk/", payload, format="json")
    assert response.data["created"] == 1 and response.data["duplicates"] == 1
    assert Ticket.objects.count() == 2


def test_bulk_of_1000_with_external_ids_resent_creates_nothing_new(api_client):
    # A full batch of keyed tickets must not turn into one giant OR (SQLite refuses depth > 1,000).
    payload = {"tickets": [{"body": "hello", "channel": "email", "external_id": f"zd-{i}"} for i in range(1000)]}
    first = api_client.post(f"{URL}bulk/", payload, format="json")
    again = api_client.post(f"{URL}bulk/", payload, format="json")
    assert first.status_code == 202 and first.data["created"] == 1000
    assert again.status_code == 202 and again.data["created"] == 0 and again.data["duplicates"] == 1000
    assert Ticket.objects.count() == 1000


def test_token_auth_works_through_the_header(agent):
    token = Token.objects.create(user=agent)
    client = APIClient()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert json.loads(response.content)["results"] == []


def test_session_auth_works_for_logged_in_agent(agent_client):
    response = agent_client.get(URL)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_unexpected_error_is_a_500_with_the_envelope_and_request_id(agent, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("tickets.api.views.TicketViewSet.list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(agent)
    response = client.get(URL, HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "server_error",
            "message": "Something went wrong on our side.",
            "details": {},
            "request_id": "trace-42",
        }
    }
    assert response["X-Request-Id"] == "trace-42"


def test_a_throttled_response_uses_the_envelope(api_client, agent, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    cache.delete(f"throttle_user_{agent.pk}")  # this user's history only (the cache may be the shared Redis)
    codes = [api_client.get(URL).status_code for _ in range(2)]
    response = api_client.get(URL)
    cache.delete(f"throttle_user_{agent.pk}")
    assert codes == [200, 200]
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response
