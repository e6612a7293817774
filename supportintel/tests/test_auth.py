"""Authentication at the cost of one query: the token, its user and the user's permissions (own and by group)
in one statement; a session user's permissions in one statement; the same answers as Django and DRF."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from supportintel.auth import OneQueryModelBackend, TokenAuthentication
from tickets.models import Ticket
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def grouped_agent():
    """Allowed to add tickets directly, and to view them through a group."""
    user = UserFactory.create(permissions=["tickets.add_ticket"])
    viewers = Group.objects.create(name="viewers")
    viewers.permissions.add(Permission.objects.get(codename="view_ticket"))
    user.groups.add(viewers)
    return user


def test_a_token_reads_its_user_and_every_permission_in_one_query(grouped_agent, django_assert_num_queries):
    key = Token.objects.create(user=grouped_agent).key
    with django_assert_num_queries(1):
        user, token = TokenAuthentication().authenticate_credentials(key)
        assert user.has_perm("tickets.add_ticket") and user.has_perm("tickets.view_ticket")
        assert not user.has_perm("tickets.change_ticket")
    assert (user.pk, user.username, token.key, token.user_id) == (
        grouped_agent.pk,
        grouped_agent.username,
        key,
        user.pk,
    )


def test_a_token_whose_user_has_no_permission_authenticates_with_none(django_assert_num_queries):
    key = Token.objects.create(user=UserFactory.create()).key
    with django_assert_num_queries(1):
        user, _ = TokenAuthentication().authenticate_credentials(key)
        assert not user.has_perm("tickets.view_ticket") and user.get_all_permissions() == set()


def test_an_unknown_token_and_an_inactive_users_token_are_refused():
    inactive = UserFactory.create(is_active=False, permissions=["tickets.add_ticket"])
    key = Token.objects.create(user=inactive).key
    with pytest.raises(AuthenticationFailed, match="inactive"):
        TokenAuthentication().authenticate_credentials(key)
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        TokenAuthentication().authenticate_credentials("0" * 40)


def test_a_superusers_token_may_do_anything():
    key = Token.objects.create(user=UserFactory.create(is_superuser=True)).key
    user, _ = TokenAuthentication().authenticate_credentials(key)
    assert user.has_perm("tickets.change_ticket") and user.has_perm("audit.view_auditentry")


def test_a_session_users_permissions_are_read_in_one_query_with_their_groups(grouped_agent, django_assert_num_queries):
    with django_assert_num_queries(1):
        permissions = OneQueryModelBackend().get_all_permissions(grouped_agent)
        assert grouped_agent.has_perm("tickets.view_ticket")
    assert {"tickets.add_ticket", "tickets.view_ticket"} <= permissions
    assert "tickets.change_ticket" not in permissions


def test_creating_a_ticket_over_the_api_costs_three_queries(grouped_agent, django_assert_num_queries):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=grouped_agent).key}")
    # The token with its user and permissions; the ticket's INSERT and its ticket.created outbox row's.
    with django_assert_num_queries(3):
        response = client.post("/api/v1/tickets/", {"subject": "Refund", "body": "Charged twice"}, format="json")
    assert response.status_code == 202 and Ticket.objects.get().subject == "Refund"


def test_a_token_without_the_add_permission_cannot_create():
    client = APIClient()
    reader = UserFactory.create(permissions=["tickets.view_ticket"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reader).key}")
    response = client.post("/api/v1/tickets/", {"body": "Charged twice"}, format="json")
    assert response.status_code == 403 and not Ticket.objects.exists()
