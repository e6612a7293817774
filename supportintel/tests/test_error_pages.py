"""What people see when something breaks: the dashboard says what is wrong (and, when the database is the
trouble, retries by itself); the API answers its envelope; the favicon is there."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _broken(exc: Exception):
    def view(*args, **kwargs):
        raise exc

    return view


def test_a_dashboard_page_with_the_database_down_says_so_and_reloads_itself(agent, monkeypatch):
    monkeypatch.setattr("tickets.stats.overview", _broken(OperationalError("connection refused")))
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    response = client.get("/", HTTP_X_REQUEST_ID="trace-7")
    html = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "10"
    assert "The database is unreachable" in html and '<meta http-equiv="refresh" content="10">' in html
    assert "trace-7" in html and "Server Error (500)" not in html


def test_any_other_failure_is_a_plain_500_page_that_does_not_reload(agent, monkeypatch):
    monkeypatch.setattr("tickets.stats.overview", _broken(RuntimeError("boom")))
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    response = client.get("/")
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()
    assert "http-equiv" not in response.content.decode()


def test_the_api_answers_503_with_its_envelope_when_the_database_is_down(agent, monkeypatch):
    monkeypatch.setattr("tickets.api.views.TicketViewSet.list", _broken(OperationalError("gone")))
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(agent)
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 503 and response["Retry-After"] == "10"
    assert response.json()["error"]["code"] == "service_unavailable"


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/static/favicon.svg")
