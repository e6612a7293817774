from __future__ import annotations

import pytest

from tickets import workflow
from tickets.models import SavedView

pytestmark = pytest.mark.django_db


def test_an_agent_chooses_their_team(agent_client, agent):
    SavedView.objects.create(owner=agent, name="Hot", query="priority=critical")
    page = agent_client.get("/me/").content.decode()
    assert "My team" in page and ">Hot</a>" in page
    response = agent_client.post("/me/", {"team": "billing"})
    assert response.status_code == 302 and workflow.team_of(agent) == "billing"
    assert "Your team is saved." in agent_client.get("/me/").content.decode()


def test_an_unknown_team_is_refused(agent_client, agent):
    response = agent_client.post("/me/", {"team": "pirates"})
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert workflow.team_of(agent) == ""


def test_me_needs_login_and_permission(client, outsider):
    assert client.get("/me/").status_code == 302
    client.force_login(outsider)
    assert client.post("/me/", {"team": "billing"}).status_code == 403
    assert workflow.team_of(outsider) == ""
