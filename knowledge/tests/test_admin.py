from __future__ import annotations

import pytest

from knowledge.models import Article
from knowledge.tests.factories import article

pytestmark = pytest.mark.django_db(transaction=True)


def test_saving_an_article_in_admin_rechunks_it_and_shows_the_chunks(admin_client):
    response = admin_client.post(
        "/admin/knowledge/article/add/",
        {
            "title": "Outages",
            "body": "## Status page\n\nCheck status.example.com.\n\n## Credits\n\nWe credit downtime.",
            "category": "technical",
            "tags": '["outage"]',
            "published": "on",
            "source_url": "",
            "chunks-TOTAL_FORMS": "0",
            "chunks-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content
    outages = Article.objects.get()
    assert list(outages.chunks.values_list("heading", flat=True)) == ["Status page", "Credits"]
    page = admin_client.get(f"/admin/knowledge/article/{outages.pk}/change/")
    assert b"We credit downtime." in page.content


def test_the_article_list_in_admin(admin_client):
    article("Refunds", "Within 30 days.")
    assert b"Refunds" in admin_client.get("/admin/knowledge/article/").content
