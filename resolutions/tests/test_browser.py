"""The resolution panel in real headless Chromium against the live server: an agent accepts a draft (the
ticket resolved by the specialist, without a reload), edits one before accepting, or rejects one; the page
passes the accessibility checks and fits a phone."""

from __future__ import annotations

import pytest

from classification.services import classify_ticket
from knowledge.tests.factories import article
from resolutions import services
from resolutions.models import Draft, DraftStatus
from tickets.models import Ticket, WorkState
from tickets.tests.conftest import SIZES, axe_violations, mark_document, needs_chromium, screenshot, sideways_overflow
from tickets.tests.factories import TicketFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def _drafted() -> Draft:
    article("Refunds", "# Refund policy\n\nA double charge is refunded within 5 business days.", category="billing")
    ticket = TicketFactory.create(subject="Charged twice", body="I was charged twice, please refund me.")
    classify_ticket(ticket.pk)  # the keyword rules: no LLM configured
    draft = services.draft_resolution(ticket.pk)
    assert draft is not None and draft.status == DraftStatus.PROPOSED
    return draft


@pytest.mark.parametrize("size", list(SIZES))
def test_an_agent_accepts_the_draft_and_the_ticket_is_resolved_by_the_specialist(open_page, agent, size):
    draft = _drafted()
    page = open_page(agent, size)
    page.goto(f"{page.base}/tickets/{draft.ticket_id}/")
    mark_document(page)
    panel = page.locator(f"#ticket-{draft.ticket_id}-resolution")
    assert "Refunds" in panel.inner_text() and "refunded within 5 business days" in panel.inner_text()
    assert axe_violations(page) == [] and sideways_overflow(page) == 0
    screenshot(page, f"resolution-proposed-{size}")

    panel.get_by_role("button", name="Accept and resolve").click()

    page.wait_for_selector("[data-field=decision]")
    page.wait_for_selector("[data-field=resolved-by]")
    assert "Accepted by agent" in page.inner_text("[data-field=decision]")
    assert page.inner_text("[data-field=state]") == "Resolved"
    assert page.inner_text("[data-field=resolved-by]") == "by specialist"
    assert page.evaluate("window.__noReload") is True and page.failed_responses == []
    ticket = Ticket.objects.get(pk=draft.ticket_id)
    assert (ticket.state, ticket.resolved_by) == (WorkState.RESOLVED, "specialist")


def test_an_agent_edits_the_reply_before_accepting(open_page, agent):
    draft = _drafted()
    page = open_page(agent)
    page.goto(f"{page.base}/tickets/{draft.ticket_id}/")
    page.click("details.edit-draft summary")
    page.fill("form.decision textarea[name=reply]", "We refunded the second charge today.")

    page.click("form.decision button[value=accept]")

    page.wait_for_selector("[data-field=resolved-by]")
    assert "after editing reply" in page.inner_text("[data-field=decision]")
    assert page.inner_text("[data-field=draft-reply]") == "We refunded the second charge today."
    assert page.inner_text("[data-field=resolved-by]") == "by human"
    draft.refresh_from_db()
    assert draft.changes["reply"]["new"] == "We refunded the second charge today."


def test_an_agent_rejects_the_draft_and_the_ticket_stays_open(open_page, agent):
    draft = _drafted()
    page = open_page(agent)
    page.goto(f"{page.base}/tickets/{draft.ticket_id}/")
    mark_document(page)
    page.fill("form.decision input[name=note]", "The customer has two accounts.")

    page.click("form.decision button[value=reject]")

    page.wait_for_selector("[data-field=decision]")
    assert "Rejected by agent" in page.inner_text("[data-field=decision]")
    assert "two accounts" in page.inner_text("[data-field=decision]")
    assert page.inner_text("[data-field=state]") == "Open" and page.evaluate("window.__noReload") is True
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED
    assert Ticket.objects.get(pk=draft.ticket_id).state == WorkState.OPEN
