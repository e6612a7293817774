"""Specialists are edited in admin; drafts are shown there read-only."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from classification.models import Category
from resolutions import defaults
from resolutions.models import Specialist
from resolutions.tests.factories import DraftFactory, SpecialistFactory

pytestmark = pytest.mark.django_db


def test_the_data_migration_installs_default_specialists_and_keeps_edited_ones():
    # Called directly: transactional tests empty the tables a reused test database had from its migrations.
    install = importlib.import_module("resolutions.migrations.0002_default_specialists").install
    Specialist.objects.all().delete()
    SpecialistFactory.create(category=Category.objects.get(slug="technical"), instructions="Ours.")

    install(apps, None)

    installed = dict(Specialist.objects.values_list("category__slug", "instructions"))
    assert set(installed) == {"billing", "technical", "account", "feature_request", "bug_report"}
    assert installed["billing"] == defaults.INSTRUCTIONS["billing"] and installed["technical"] == "Ours."


def test_a_specialists_instructions_and_model_are_edited_in_admin(admin_client):
    specialist = SpecialistFactory.create(category=Category.objects.get(slug="technical"))

    response = admin_client.post(
        f"/admin/resolutions/specialist/{specialist.pk}/change/",
        {
            "category": Category.objects.get(slug="technical").pk,
            "instructions": "Ask for the error code first.",
            "model_name": "tech-model",
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content
    specialist.refresh_from_db()
    assert (specialist.instructions, specialist.model_name) == ("Ask for the error code first.", "tech-model")
    assert b"Technical" in admin_client.get("/admin/resolutions/specialist/").content


def test_drafts_are_listed_but_not_changed_in_admin(admin_client):
    draft = DraftFactory.create()
    assert str(draft.ticket_id).encode() in admin_client.get("/admin/resolutions/draft/").content
    page = admin_client.get(f"/admin/resolutions/draft/{draft.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
