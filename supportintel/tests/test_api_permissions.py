"""Who may read the API's read-only endpoints: the root, the breaker, the taxonomy."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

READ_ONLY = ["/api/v1/", "/api/v1/breaker/", "/api/v1/categories/", "/api/v1/categories/billing/"]


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("url", READ_ONLY)
def test_anonymous_requests_are_refused(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("url", READ_ONLY)
def test_a_user_without_any_ticket_permission_is_refused(outsider, url):
    response = _client_for(outsider).get(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_agent_with_ticket_permissions_only_reads_the_root_the_breaker_and_the_taxonomy(agent):
    client = _client_for(agent)
    root = set(client.get("/api/v1/").json())
    assert root == {
        "tickets",
        "categories",
        "breaker",
        "stats",
        "audit",
        "analyses",
        "incidents",
        "customers",
        "webhooks",
        "kb/articles",
        "kb/search",
        "kb/upload",
        "kb/gaps",
    }
    assert client.get("/api/v1/breaker/").json()["state"] == "closed"
    slugs = [category["slug"] for category in client.get("/api/v1/categories/").json()]
    assert "billing" in slugs and "technical" in slugs


def test_the_seed_commands_agents_group_reads_the_taxonomy():
    call_command("seed", "--count", "0", "--no-classify", stdout=io.StringIO())
    member = UserFactory.create()
    member.groups.add(Group.objects.get(name="agents"))
    response = _client_for(member).get("/api/v1/categories/billing/")
    assert response.status_code == 200 and response.json()["slug"] == "billing"


def test_whoever_may_view_categories_in_admin_reads_the_taxonomy_but_not_tickets():
    editor = UserFactory.create(permissions=["classification.view_category"])
    client = _client_for(editor)
    assert client.get("/api/v1/categories/").status_code == 200
    assert client.get("/api/v1/tickets/").status_code == 403
