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
