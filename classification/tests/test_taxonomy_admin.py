from __future__ import annotations

import pytest
from django.test import Client

from classification import rules, services
from classification.models import Category
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(username="admin", is_staff=True, is_superuser=True))
    return client


def _post_category(client: Client, category: Category, keywords: str):
    return client.post(
        f"/admin/classification/category/{category.pk}/change/",
        {
            "slug": category.slug,
            "name": category.name,
            "description": category.description,
            "team": category.team,
            "keywords": keywords,
            "reply_template": category.reply_template,
            "required_info": category.required_info,
            "reply_tone": category.reply_tone,
            "active": "on",
            "position": category.position,
        },
    )


def test_a_keyword_added_in_admin_takes_effect_for_the_next_classification(admin_client):
    ticket = TicketFactory.create(subject="Zorblax gadget", body="My zorblax gadget arrived")
    feature = Category.objects.get(slug="feature_request")
    rules.current_rules()  # warm this process's cache with the old taxonomy
    response = _post_category(admin_client, feature, "zorblax = 3\nwould be nice")
    assert response.status_code == 302
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.category == "feature_request"
    assert ticket.classifications.get().matched_keywords == ["zorblax"]


def test_a_bad_pattern_is_refused_in_the_form_and_nothing_changes(admin_client):
    billing = Category.objects.get(slug="billing")
    before = list(billing.keywords)
    response = _post_category(admin_client, billing, "refund\nre:(unclosed = 2\nfee = lots")
    assert response.status_code == 200
    html = response.content.decode()
    assert "invalid pattern" in html and "weight &#x27;lots&#x27; is not a number" in html
    billing.refresh_from_db()
    assert billing.keywords == before


def test_admin_shows_keywords_one_per_line_with_weights(admin_client):
    billing = Category.objects.get(slug="billing")
    billing.keywords = [{"term": "refund", "weight": 2.0}, {"term": "fee", "weight": 1.0}]
    billing.save()
    html = admin_client.get(f"/admin/classification/category/{billing.pk}/change/").content.decode()
    assert "refund = 2\nfee" in html


def test_a_change_made_by_another_process_is_seen_without_invalidate():
    rules.current_rules()
    # A plain save, as the web process would do: this process's cache is not told.
    general = Category.objects.get(slug="general")
    general.keywords = [*general.keywords, {"term": "quuxify", "weight": 5}]
    general.save()
    assert any(p.term == "quuxify" for p in rules.current_rules().matcher.words.get("quuxify", []))


def test_a_stored_bad_keyword_never_crashes_classification():
    # Written around the form (e.g. by a script): the worker skips it and classifies.
    Category.objects.filter(slug="billing").update(keywords=[{"term": "re:[", "weight": 1}, {"term": "refund"}])
    rules.invalidate()
    ticket = TicketFactory.create(subject="refund please", body="")
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.category == "billing"


def test_category_admin_requires_staff(client, agent):
    client.force_login(agent)
    response = client.get("/admin/classification/category/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_required_information_and_tone_are_edited_in_admin(admin_client):
    technical = Category.objects.get(slug="technical")
    response = admin_client.post(
        f"/admin/classification/category/{technical.pk}/change/",
        {
            "slug": "technical",
            "name": technical.name,
            "team": technical.team,
            "keywords": "crash",
            "required_info": ["error_code", "url"],
            "reply_tone": "concise",
            "active": "on",
            "position": technical.position,
        },
    )
    assert response.status_code == 302
    technical.refresh_from_db()
    assert technical.required_info == ["error_code", "url"] and technical.reply_tone == "concise"
    ticket = TicketFactory.create(subject="Crash", body="The app shows a crash when I open it.")
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.category == "technical" and ticket.missing_info == ["error_code", "url"]
    assert ticket.classifications.get().reply_tone == "concise"
    page = admin_client.get(f"/admin/classification/category/{technical.pk}/change/").content.decode()
    assert 'type="checkbox" name="required_info" value="order_id"' in page
