"""Ticket admin: the requeue actions need `change_ticket`, not just a staff account that may view."""

from __future__ import annotations

import pytest
from django.test import Client

from tickets.models import Status
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tickets/ticket/"


def _staff_client(*permissions: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(is_staff=True, permissions=list(permissions)))
    return client


def _run_on_everything(client: Client, action: str, ticket_ids: list[int]):
    # What the admin's "select all N tickets" link posts: the action over the whole queryset.
    return client.post(
        CHANGELIST,
        {"action": action, "select_across": "1", "index": "0", "_selected_action": ticket_ids},
        follow=True,
    )


@pytest.mark.parametrize("action", ["reclassify", "retry_failed"])
def test_a_view_only_staff_user_cannot_requeue_tickets_with_select_across(action):
    classified = TicketFactory.create(classified=True)
    failed = TicketFactory.create(failed=True)
    client = _staff_client("tickets.view_ticket")

    response = _run_on_everything(client, action, [classified.pk, failed.pk])

    assert response.status_code == 200
    assert "queued" not in " ".join(str(m) for m in response.context["messages"])
    classified.refresh_from_db()
    failed.refresh_from_db()
    assert classified.status == Status.CLASSIFIED
    assert failed.status == Status.FAILED and failed.last_error


def test_a_view_only_staff_user_is_not_offered_the_actions():
    TicketFactory.create(classified=True)
    html = _staff_client("tickets.view_ticket").get(CHANGELIST).content.decode()
    assert 'value="reclassify"' not in html and 'value="retry_failed"' not in html


def test_a_staff_user_with_change_ticket_retries_failed_tickets(django_capture_on_commit_callbacks):
    classified = TicketFactory.create(classified=True)
    failed = TicketFactory.create(failed=True)
    client = _staff_client("tickets.view_ticket", "tickets.change_ticket")

    with django_capture_on_commit_callbacks() as callbacks:
        response = _run_on_everything(client, "retry_failed", [classified.pk, failed.pk])

    assert "1 failed tickets queued again." in [str(m) for m in response.context["messages"]]
    assert len(callbacks) == 1  # the publish, after the commit
    failed.refresh_from_db()
    classified.refresh_from_db()
    assert failed.status == Status.QUEUED and failed.last_error == ""
    assert classified.status == Status.CLASSIFIED


def test_the_change_page_shows_the_working_side_and_its_history_read_only(admin_client):
    from tickets import workflow
    from tickets.models import WorkState

    ticket = TicketFactory.create()
    admin = UserFactory.create(username="boss", is_superuser=True, is_staff=True)
    workflow.change_state([ticket.pk], WorkState.RESOLVED, actor=admin)
    html = admin_client.get(f"{CHANGELIST}{ticket.pk}/change/").content.decode()
    assert "Ticket changes" in html and "resolved" in html
    assert 'name="state"' not in html  # changed through the dashboard or the API, with history and audit
    listing = admin_client.get(f"{CHANGELIST}?state__exact=resolved").content.decode()
    assert f"/admin/tickets/ticket/{ticket.pk}/change/" in listing


def test_agent_profiles_and_saved_views_are_in_admin(admin_client):
    from tickets.models import AgentProfile, SavedView

    user = UserFactory.create(username="ann")
    AgentProfile.objects.create(user=user, team="billing")
    SavedView.objects.create(owner=user, name="Fires", query="priority=critical", shared=True)
    assert "billing" in admin_client.get("/admin/tickets/agentprofile/").content.decode()
    assert "Fires" in admin_client.get("/admin/tickets/savedview/").content.decode()
