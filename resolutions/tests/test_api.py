"""/api/v1/tickets/{id}/resolution/: the latest draft, accept (as written or edited), reject."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from resolutions.models import DraftStatus
from resolutions.tests.factories import DraftFactory
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(ticket_id: int, suffix: str = "") -> str:
    return f"/api/v1/tickets/{ticket_id}/resolution/{suffix}"


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_the_latest_draft_is_shown_with_its_citations(api_client):
    draft = DraftFactory.create(
        citations=[
            {"n": 1, "article_id": 3, "chunk_id": 7, "rank": 1, "title": "Refunds", "heading": "Policy", "page": None}
        ]
    )

    body = api_client.get(_url(draft.ticket_id)).json()

    assert (body["id"], body["status"], body["source"], body["can_close"]) == (draft.pk, "proposed", "llm", True)
    assert body["steps"] == draft.steps and body["citations"][0]["chunk_id"] == 7
    assert body["decided_by"] is None and body["changes"] == {}


def test_a_ticket_without_a_draft_is_a_404(api_client):
    response = api_client.get(_url(TicketFactory.create().pk))
    assert response.status_code == 404 and "no resolution draft" in response.json()["error"]["message"]


def test_accepting_resolves_the_ticket_and_the_ticket_says_by_whom(api_client):
    draft = DraftFactory.create()

    body = api_client.post(_url(draft.ticket_id, "accept/"), {}, format="json").json()

    assert (body["status"], body["decided_by"], body["changes"]) == ("accepted", "agent", {})
    ticket = api_client.get(f"/api/v1/tickets/{draft.ticket_id}/").json()
    assert (ticket["state"], ticket["resolved_by"]) == ("resolved", "specialist")


def test_accepting_with_edits_records_them_and_a_human_resolves(api_client):
    draft = DraftFactory.create()

    body = api_client.post(_url(draft.ticket_id, "accept/"), {"steps": ["Refund it."]}, format="json").json()

    assert body["changes"] == {"steps": {"old": draft.steps, "new": ["Refund it."]}} and body["steps"] == ["Refund it."]
    assert api_client.get(f"/api/v1/tickets/{draft.ticket_id}/").json()["resolved_by"] == "human"


def test_rejecting_then_deciding_again_is_a_409(api_client):
    draft = DraftFactory.create()

    rejected = api_client.post(_url(draft.ticket_id, "reject/"), {"note": "Not this customer."}, format="json")
    again = api_client.post(_url(draft.ticket_id, "accept/"), {}, format="json")

    assert rejected.json()["status"] == "rejected" and rejected.json()["note"] == "Not this customer."
    assert again.status_code == 409 and again.json()["error"]["code"] == "draft_decided"
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED


def test_an_edit_that_is_not_valid_is_a_400_and_changes_nothing(api_client):
    draft = DraftFactory.create()

    response = api_client.post(_url(draft.ticket_id, "accept/"), {"reply": ""}, format="json")

    assert response.status_code == 400 and "reply" in response.json()["error"]["details"]
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PROPOSED


def test_anonymous_callers_are_refused():
    draft = DraftFactory.create()
    client = APIClient()
    assert client.get(_url(draft.ticket_id)).status_code == 401
    assert client.post(_url(draft.ticket_id, "accept/"), {}, format="json").status_code == 401


def test_readers_may_see_the_draft_but_not_decide_and_outsiders_see_nothing(outsider):
    draft = DraftFactory.create()
    reader = _client_for(UserFactory.create(username="reader", permissions=["tickets.view_ticket"]))

    assert reader.get(_url(draft.ticket_id)).status_code == 200
    assert reader.post(_url(draft.ticket_id, "accept/"), {}, format="json").status_code == 403
    assert _client_for(outsider).get(_url(draft.ticket_id)).status_code == 403
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PROPOSED
