"""The issue's end-to-end test: a ticket posted through the API is classified by a real Celery worker process
through the fake LLM over HTTP; the worker then has the billing specialist draft its resolution (a second
request to the fake LLM, citing the demo article it retrieved); an agent accepts the draft through the API and
the ticket is resolved by the specialist."""

from __future__ import annotations

import pytest

from conftest import wait_for
from knowledge.tests.factories import article
from resolutions.models import Draft, DraftStatus
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_posted_ticket_gets_a_grounded_draft_from_the_worker_that_an_agent_accepts(
    fake_llm, celery_worker_process, api_client
):
    refunds = article(
        "Refunds",
        "# Refund policy\n\nA double charge is refunded within 5 business days once we confirm the duplicate payment.",
        category="billing",
    )
    celery_worker_process(
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_API_KEY="test",
        LLM_MODEL="fake-classifier",
        LLM_TIMEOUT_SECONDS="5",
        LLM_BREAKER_STORAGE="database",
    )
    posted = api_client.post(
        "/api/v1/tickets/",
        {"subject": "Charged twice", "body": "I was charged twice for my subscription, please refund me."},
        format="json",
    )
    assert posted.status_code == 202
    ticket_id = posted.data["id"]

    draft = wait_for(
        lambda: Draft.objects.filter(ticket_id=ticket_id, status=DraftStatus.PROPOSED).first(), timeout=120
    )

    assert (draft.source, draft.category, draft.model_name) == ("llm", "billing", "fake-classifier")
    assert draft.citations[0]["article_id"] == refunds.pk and "[1]" in draft.reply
    assert fake_llm.state.stats()["completions"] == 2  # the classification, then the specialist
    shown = api_client.get(f"/api/v1/tickets/{ticket_id}/resolution/").json()
    assert shown["id"] == draft.pk and shown["citations"][0]["title"] == "Refunds"

    accepted = api_client.post(f"/api/v1/tickets/{ticket_id}/resolution/accept/", {}, format="json").json()

    assert (accepted["status"], accepted["decided_by"]) == ("accepted", "agent")
    ticket = Ticket.objects.get(pk=ticket_id)
    assert (ticket.state, ticket.resolved_by) == ("resolved", "specialist")
    assert api_client.get(f"/api/v1/tickets/{ticket_id}/").json()["resolved_by"] == "specialist"
    assert Draft.objects.filter(ticket_id=ticket_id).count() == 1
