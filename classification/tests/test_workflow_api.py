"""The synchronous workflow endpoints (/api/v1/workflow/…): the worker's chain on a text, answered within
WORKFLOW_TIMEOUT_SECONDS, nothing stored unless /process/ says `store: true`."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classification import breaker
from classification.models import Category, Classification
from tickets.models import Status, Ticket
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TEXT = {
    "subject": "Refund and login problem",
    "body": "I was charged twice for my subscription and want a refund. Also I cannot log in. This is urgent!",
    "customer_name": "Ada",
}


def _post(client: APIClient, name: str, data: dict) -> dict:
    response = client.post(f"/api/v1/workflow/{name}/", data, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _token_client(username: str, *permissions: str) -> APIClient:
    user = UserFactory.create(username=username, permissions=list(permissions))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_classify_answers_now_from_the_rules_without_an_llm_and_stores_nothing(api_client):
    answer = _post(api_client, "classify", TEXT)
    assert answer["source"] == "keyword" and answer["fallback_reason"] == "not_configured"
    assert answer["category"] == "billing" and answer["priority"] == "high"
    assert [entry["category"] for entry in answer["secondary_categories"]] == ["account"]
    assert "urgent" in answer["urgency_indicators"] and answer["reasoning"].startswith("Filed as billing")
    assert 0 <= answer["risk"] <= 1 and 0 < answer["confidence"] <= 1 and answer["elapsed_ms"] >= 0
    assert Ticket.objects.count() == 0 and Classification.objects.count() == 0


def test_classify_through_the_llm(api_client, fake_llm):
    answer = _post(api_client, "classify", TEXT)
    assert answer["source"] == "llm" and answer["fallback_reason"] == "" and answer["model_name"] == "fake-classifier"
    assert answer["category"] == "billing" and answer["urgency_indicators"] == ["urgent"]
    assert fake_llm.state.stats()["completions"] == 1


def test_an_llm_that_does_not_answer_in_time_gives_the_rules_answer_with_reason_timeout(api_client, fake_llm, settings):
    settings.LLM_TIMEOUT_SECONDS = 5.0
    settings.WORKFLOW_TIMEOUT_SECONDS = 0.5
    fake_llm.state.configure({"mode": "timeout"})  # the server holds every request
    answer = _post(api_client, "classify", TEXT)
    assert answer["source"] == "keyword" and answer["fallback_reason"] == "timeout"
    assert answer["fallback_detail"] == "no answer within 0.5 s" and answer["category"] == "billing"
    # Answered at the bound: not after the LLM's own timeout.
    assert 500 <= answer["elapsed_ms"] < 5000


@pytest.mark.parametrize("mode", ["error500", "malformed"])
def test_an_llm_failure_gives_the_rules_answer_with_its_reason(api_client, fake_llm, mode):
    fake_llm.state.configure({"mode": mode})
    answer = _post(api_client, "route", TEXT)
    assert answer["source"] == "keyword"
    assert answer["fallback_reason"] == {"error500": "error", "malformed": "invalid_output"}[mode]
    assert answer["team"] == Category.objects.get(slug="billing").team


def test_an_open_breaker_answers_from_the_rules_without_calling_the_llm(api_client, fake_llm, settings):
    settings.LLM_BREAKER_FAIL_MAX = 2
    fake_llm.state.configure({"mode": "error500"})
    assert [_post(api_client, "classify", TEXT)["fallback_reason"] for _ in range(2)] == ["error", "error"]
    assert breaker.status()["state"] == "open"
    fake_llm.state.configure({"mode": "ok"})
    answer = _post(api_client, "classify", TEXT)
    assert answer["source"] == "keyword" and answer["fallback_reason"] == "breaker_open"
    assert fake_llm.state.stats()["requests"] == 2


def test_extract_lists_entities_and_the_missing_required_information(api_client):
    answer = _post(api_client, "extract", {"subject": "Refund", "body": "Charged twice, 49.90 EUR, refund please."})
    assert answer["category"] == "billing" and answer["entities"]["amounts"] == ["49.90 EUR"]
    assert answer["missing_info"] == ["order_id"]
    off = _post(
        api_client, "extract", {"subject": "Refund", "body": "Charged twice, 49.90 EUR.", "options": {"extract": False}}
    )
    assert all(values == [] for values in off["entities"].values()) and off["missing_info"] == []


def test_respond_keeps_what_the_caller_gives_and_writes_in_the_asked_tone(api_client, fake_llm):
    given = {
        **TEXT,
        "category": "account",
        "priority": "low",
        "entities": {"order_ids": ["ORD-1234"]},
        "options": {"tone": "formal"},
    }
    answer = _post(api_client, "respond", given)
    assert answer["source"] == "llm" and answer["category"] == "account" and answer["reply_tone"] == "formal"
    prompt = fake_llm.state.last_request["messages"][0]["content"]
    assert "The category is already decided: account." in prompt and '"order_ids": ["ORD-1234"]' in prompt
    enum = fake_llm.state.last_request["response_format"]["json_schema"]["schema"]["properties"]["category"]["enum"]
    assert enum == ["account"]
    # Account needs the account's email: the text gives none, so the reply asks for it.
    assert answer["missing_info"] == ["email"] and "email address of your account" in answer["suggested_reply"]


def test_respond_from_the_rules_uses_the_given_category_template_and_entities(api_client):
    answer = _post(
        api_client,
        "respond",
        {
            "subject": "Question",
            "body": "Where is my money?",
            "category": "billing",
            "entities": {"order_ids": ["ORD-77"]},
        },
    )
    assert answer["source"] == "keyword" and answer["category"] == "billing"
    assert "ORD-77" in answer["suggested_reply"] and answer["missing_info"] == []
    assert _post(api_client, "respond", {**TEXT, "options": {"reply": False}})["suggested_reply"] == ""


def test_route_a_critical_ticket_to_escalation_with_the_category_team_as_alternative(api_client):
    answer = _post(api_client, "route", {**TEXT, "category": "billing", "priority": "critical"})
    assert answer["team"] == "escalation" and answer["priority"] == "critical"
    teams = dict(Category.objects.values_list("slug", "team"))
    assert answer["routing_alternatives"][0] == {"team": teams["billing"], "category": "billing", "confidence": 1.0}
    assert {"team": teams["account"], "category": "account"}.items() <= answer["routing_alternatives"][1].items()


def test_process_answers_everything_and_stores_the_ticket_only_when_asked(api_client):
    answer = _post(api_client, "process", TEXT)
    assert answer["ticket_id"] is None and Ticket.objects.count() == 0
    for key in ("category", "entities", "suggested_reply", "team", "routing_alternatives", "missing_info", "reasoning"):
        assert key in answer
    response = api_client.post(
        "/api/v1/workflow/process/", {**TEXT, "store": True, "external_id": "hd-1"}, format="json"
    )
    assert response.status_code == 201
    stored = response.json()
    ticket = Ticket.objects.get(pk=stored["ticket_id"])
    assert stored["created"] is True and stored["ticket_url"].endswith(f"/api/v1/tickets/{ticket.pk}/")
    assert ticket.status == Status.CLASSIFIED and ticket.category == stored["category"] == "billing"
    assert ticket.classification_source == "keyword" and ticket.fallback_reason == "not_configured"
    assert ticket.missing_info == ["order_id"] and ticket.due_at is not None and ticket.first_classified_at
    row = ticket.classifications.get()
    assert (
        row.suggested_reply == stored["suggested_reply"] and row.secondary_categories == stored["secondary_categories"]
    )
    again = api_client.post("/api/v1/workflow/process/", {**TEXT, "store": True, "external_id": "hd-1"}, format="json")
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["ticket_id"] == ticket.pk
    assert Ticket.objects.count() == 1


def test_who_may_triage_and_who_may_store():
    reader = _token_client("reader", "tickets.view_ticket")
    assert reader.post("/api/v1/workflow/classify/", TEXT, format="json").status_code == 200
    assert reader.post("/api/v1/workflow/process/", {**TEXT, "store": True}, format="json").status_code == 403
    writer = _token_client("integration", "tickets.add_ticket")
    assert writer.post("/api/v1/workflow/process/", {**TEXT, "store": True}, format="json").status_code == 201
    nobody = _token_client("nobody")
    assert nobody.post("/api/v1/workflow/classify/", TEXT, format="json").status_code == 403
    assert APIClient().post("/api/v1/workflow/classify/", TEXT, format="json").status_code == 401


def test_bad_requests_are_refused(api_client):
    for data in ({}, {"subject": " ", "body": ""}, {**TEXT, "category": "nope"}, {**TEXT, "entities": {"pets": ["x"]}}):
        name = "respond" if "category" in data or "entities" in data else "classify"
        response = api_client.post(f"/api/v1/workflow/{name}/", data, format="json")
        assert response.status_code == 400, data
        assert response.json()["error"]["code"] == "invalid"


def test_the_workflow_budget_is_apart_from_ticket_creation(api_client, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "workflow": "2/min"},
    }
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        codes = [api_client.post("/api/v1/workflow/classify/", TEXT, format="json").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert api_client.post("/api/v1/tickets/", TEXT, format="json").status_code == 202
    finally:
        SimpleRateThrottle.THROTTLE_RATES = rates


def test_the_schema_documents_every_workflow_endpoint(api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for name in ("classify", "extract", "respond", "route", "process"):
        operation = schema["paths"][f"/api/v1/workflow/{name}/"]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert "429" in operation["responses"]
    answer = schema["components"]["schemas"]["ClassifyAnswer"]["properties"]
    assert {"source", "fallback_reason", "secondary_categories", "urgency_indicators", "reasoning"} <= set(answer)
