"""The resolution panel on the ticket's page: shown with the draft, polled while it is on its way, and the
decision form (htmx swaps and plain posts)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from knowledge.tests.factories import article
from resolutions.models import DraftStatus
from resolutions.tests.factories import DraftFactory
from tickets.models import Status
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _decide_url(draft) -> str:
    return f"/tickets/{draft.ticket_id}/resolution/{draft.pk}/decide/"


def test_the_ticket_page_shows_the_draft_its_sources_and_the_decision_form(agent_client):
    refunds = article("Refunds", "## Policy\n\nRefunds take five days.")
    gone = article("Old pricing", "## Plans\n\nRetired.")
    draft = DraftFactory.create(
        citations=[
            {"n": 1, "article_id": refunds.pk, "chunk_id": 9, "rank": 1, "title": "Refunds", "heading": "Policy"}
            | {"page": 2},
            {"n": 2, "article_id": gone.pk, "chunk_id": 10, "rank": 2, "title": "Old pricing", "heading": "Plans"}
            | {"page": None},
        ]
    )
    gone_id = gone.pk
    gone.delete()

    html = agent_client.get(f"/tickets/{draft.ticket_id}/").content.decode()

    assert f'id="ticket-{draft.ticket_id}-resolution"' in html and "Specialist resolution" in html
    assert draft.diagnosis in html and "Refund the second charge." in html
    assert f'href="/api/v1/kb/articles/{refunds.pk}/"' in html and "page 2" in html
    # An article deleted since the draft was written is named, not linked.
    assert (
        f"/api/v1/kb/articles/{gone_id}/" not in html and 'Old pricing <small class="muted">(deleted)</small>' in html
    )
    assert (
        'value="accept"' in html
        and 'value="reject"' in html
        and "hx-trigger" not in html.split("resolution-card")[1][:300]
    )


def test_the_panel_polls_while_the_ticket_is_being_classified_and_stops_once_drafted(agent_client):
    ticket = TicketFactory.create(status=Status.QUEUED)
    waiting = agent_client.get(f"/tickets/{ticket.pk}/resolution/", headers=HTMX)
    assert waiting.status_code == 200 and 'hx-trigger="every 3s"' in waiting.content.decode()
    assert "drafting a resolution" in waiting.content.decode() and "<html" not in waiting.content.decode()

    draft = DraftFactory.create()
    done = agent_client.get(f"/tickets/{draft.ticket_id}/resolution/", headers=HTMX)
    assert done.status_code == 286 and "every 3s" not in done.content.decode()


def test_an_old_classification_without_a_draft_does_not_poll(agent_client):
    ticket = TicketFactory.create(classified=True, classified_at=timezone.now() - timedelta(hours=1))
    response = agent_client.get(f"/tickets/{ticket.pk}/resolution/", headers=HTMX)
    assert response.status_code == 286 and "No resolution draft" in response.content.decode()


def test_a_fresh_automatic_classification_polls_but_a_fresh_correction_does_not(agent_client):
    fresh = TicketFactory.create(classified=True, classified_at=timezone.now())
    corrected = TicketFactory.create(classified=True, classified_at=timezone.now(), classification_source="human")
    assert agent_client.get(f"/tickets/{fresh.pk}/resolution/", headers=HTMX).status_code == 200
    assert agent_client.get(f"/tickets/{corrected.pk}/resolution/", headers=HTMX).status_code == 286


def test_accepting_with_htmx_swaps_the_panel_and_tells_the_work_card(agent_client):
    draft = DraftFactory.create()

    response = agent_client.post(
        _decide_url(draft),
        {"decision": "accept", "diagnosis": draft.diagnosis, "steps": "\n".join(draft.steps), "reply": draft.reply},
        headers=HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200 and "Accepted by agent" in html and "<html" not in html
    assert json.loads(response.headers["HX-Trigger"]) == {"ticketResolved": {"id": draft.ticket_id}}
    draft.refresh_from_db()
    assert draft.status == DraftStatus.ACCEPTED and draft.changes == {}
    work = agent_client.get(f"/tickets/{draft.ticket_id}/work/").content.decode()
    assert 'data-field="resolved-by">by specialist' in work


def test_an_edited_reply_is_accepted_as_edited(agent_client):
    draft = DraftFactory.create()

    agent_client.post(
        _decide_url(draft),
        {"decision": "accept", "reply": "Refunded today.", "steps": "\n".join(draft.steps)},
        headers=HTMX,
    )

    draft.refresh_from_db()
    assert draft.reply == "Refunded today." and list(draft.changes) == ["reply"]
    assert draft.ticket.resolved_by == "human"


def test_rejecting_without_htmx_redirects_to_the_ticket_with_a_message(agent_client):
    draft = DraftFactory.create()

    response = agent_client.post(_decide_url(draft), {"decision": "reject", "note": "Wrong customer."}, follow=True)

    assert response.redirect_chain == [(f"/tickets/{draft.ticket_id}/", 302)]
    assert "Draft rejected." in response.content.decode() and "Rejected by agent" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED and draft.note == "Wrong customer."


def test_a_decided_draft_is_refused_with_the_reason_in_the_panel(agent_client):
    draft = DraftFactory.create(status=DraftStatus.REJECTED)

    response = agent_client.post(_decide_url(draft), {"decision": "accept"}, headers=HTMX)

    assert response.status_code == 422 and "only a proposed draft" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED


def test_anonymous_and_readers_cannot_decide_and_outsiders_cannot_see(outsider):
    draft = DraftFactory.create()
    client = Client()
    assert client.post(_decide_url(draft), {"decision": "accept"}).status_code == 302  # to the login page
    client.force_login(UserFactory.create(username="reader", permissions=["tickets.view_ticket"]))
    assert 'value="accept"' not in client.get(f"/tickets/{draft.ticket_id}/").content.decode()
    assert client.post(_decide_url(draft), {"decision": "accept"}).status_code == 403
    client.force_login(outsider)
    assert client.get(f"/tickets/{draft.ticket_id}/resolution/", headers=HTMX).status_code == 403
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PROPOSED


def test_a_draft_of_another_ticket_is_a_404(agent_client):
    draft = DraftFactory.create()
    other = TicketFactory.create()
    assert (
        agent_client.post(f"/tickets/{other.pk}/resolution/{draft.pk}/decide/", {"decision": "accept"}).status_code
        == 404
    )
