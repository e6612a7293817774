from __future__ import annotations

import pytest

from tickets.models import SavedView
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_saving_keeps_only_the_lists_filters_and_sort(agent_client, agent):
    response = agent_client.post(
        "/tickets/views/", {"name": " Urgent billing ", "query": "priority=high&category=billing&page=3&x=1&sort=due"}
    )
    view = SavedView.objects.get()
    assert (view.owner, view.name, view.shared) == (agent, "Urgent billing", False)
    assert view.query == "category=billing&priority=high&sort=due"
    assert response.status_code == 302 and response["Location"] == f"/tickets/?{view.query}"
    html = agent_client.get(response["Location"]).content.decode()
    assert "View “Urgent billing” saved." in html and 'class="chip saved current"' in html


def test_any_state_is_kept_and_saving_the_same_name_replaces_the_view(agent_client):
    agent_client.post("/tickets/views/", {"name": "Everything", "query": "state=&search="})
    agent_client.post("/tickets/views/", {"name": "Everything", "query": "state=&team=billing", "shared": "on"})
    view = SavedView.objects.get()
    assert view.query == "state=&team=billing" and view.shared


def test_a_view_the_list_would_refuse_is_not_saved(agent_client):
    response = agent_client.post("/tickets/views/", {"name": "Broken", "query": "priority=whenever"})
    assert response.status_code == 302 and not SavedView.objects.exists()
    assert "The view was not saved" in agent_client.get(response["Location"]).content.decode()
    assert agent_client.post("/tickets/views/", {"name": "", "query": ""}).status_code == 302
    assert not SavedView.objects.exists()


def test_shared_views_show_to_everyone_and_private_ones_to_their_owner(agent_client, client):
    ann = UserFactory.create(username="ann", permissions=["tickets.view_ticket"])
    SavedView.objects.create(owner=ann, name="Ann's shared", query="priority=high", shared=True)
    SavedView.objects.create(owner=ann, name="Ann's own", query="priority=low")
    html = agent_client.get("/tickets/").content.decode()
    assert "Ann&#x27;s shared" in html and "shared by ann" in html and "Ann&#x27;s own" not in html


def test_only_the_owner_deletes_a_view(agent_client, agent):
    ann = UserFactory.create(username="ann", permissions=["tickets.view_ticket"])
    theirs = SavedView.objects.create(owner=ann, name="Theirs", shared=True)
    mine = SavedView.objects.create(owner=agent, name="Mine")
    assert agent_client.post(f"/tickets/views/{theirs.pk}/delete/").status_code == 404
    assert agent_client.post(f"/tickets/views/{mine.pk}/delete/").status_code == 302
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Theirs"]


def test_saved_views_need_login_and_permission(client, outsider):
    assert client.post("/tickets/views/", {"name": "x", "query": ""}).status_code == 302
    client.force_login(outsider)
    assert client.post("/tickets/views/", {"name": "x", "query": ""}).status_code == 403
    assert not SavedView.objects.exists()
