from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from knowledge.models import Article
from knowledge.tests import files
from knowledge.tests.factories import article

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("editor", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="knowledge", codename__endswith="article")
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_agents_search_and_get_ranked_chunks_with_their_article(api_client):
    refunds = article("Refunds", "## Double charges\n\nA duplicate charge is refunded.", category="billing")
    response = api_client.get("/api/v1/kb/search/", {"q": "refund for a duplicate charge"})
    assert response.status_code == 200
    [hit] = response.json()
    assert hit["rank"] == 1 and hit["heading"] == "Double charges" and hit["page"] is None
    assert hit["article"] == {
        "id": refunds.pk,
        "title": "Refunds",
        "category": "billing",
        "source_url": "",
        "source_name": "",
    }
    assert api_client.get("/api/v1/kb/search/").status_code == 400
    assert api_client.get("/api/v1/kb/search/", {"q": "x", "k": 51}).status_code == 400


def test_agents_read_articles_but_only_permission_holders_write_them(api_client, editor):
    refunds = article("Refunds", "Within 30 days.")
    assert api_client.get("/api/v1/kb/articles/").json()["results"][0]["chunk_count"] == 1
    assert api_client.post("/api/v1/kb/articles/", {"title": "T", "body": "B"}, format="json").status_code == 403
    assert api_client.delete(f"/api/v1/kb/articles/{refunds.pk}/").status_code == 403

    created = editor.post(
        "/api/v1/kb/articles/",
        {"title": "Exports", "body": "## CSV\n\nFrom Settings.", "tags": ["export", "csv"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["chunk_count"] == 1 and created.json()["source_kind"] == "manual"
    pk = created.json()["id"]
    changed = editor.patch(f"/api/v1/kb/articles/{pk}/", {"body": "## A\n\nOne.\n\n## B\n\nTwo."}, format="json")
    assert changed.json()["chunk_count"] == 2
    assert editor.patch(f"/api/v1/kb/articles/{pk}/", {"tags": "nope"}, format="json").status_code == 400
    assert editor.delete(f"/api/v1/kb/articles/{pk}/").status_code == 204


def test_outsiders_read_nothing(outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/kb/search/", {"q": "refund"}).status_code == 403
    assert client.get("/api/v1/kb/articles/").status_code == 403
    assert APIClient().get("/api/v1/kb/articles/").status_code in (401, 403)


def test_uploading_a_pdf_makes_a_searchable_article_with_page_numbers(editor, api_client):
    data = files.pdf(["Refunds take five days.", "Two-factor recovery codes are single use."], title="Guide")
    response = editor.post(
        "/api/v1/kb/upload/",
        {"file": SimpleUploadedFile("guide.pdf", data), "category": "technical", "tags": "2fa, login"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["title"], body["source_kind"], body["tags"], body["chunk_count"]) == (
        "Guide",
        "pdf",
        ["2fa", "login"],
        2,
    )
    [hit] = api_client.get("/api/v1/kb/search/", {"q": "recovery codes"}).json()
    assert hit["page"] == 2 and hit["article"]["source_name"] == "guide.pdf"


def test_bad_uploads_are_400s_that_say_why_and_save_nothing(editor, api_client, settings):
    bad = editor.post("/api/v1/kb/upload/", {"file": SimpleUploadedFile("x.pdf", b"%PDF-1 junk")}, format="multipart")
    assert bad.status_code == 400
    assert "x.pdf: the PDF cannot be read" in str(bad.json())
    settings.KB_MAX_FILE_BYTES = 10
    big = editor.post("/api/v1/kb/upload/", {"file": SimpleUploadedFile("a.md", b"# A\n\nlonger text")})
    assert big.status_code == 400 and "larger than" in str(big.json())
    assert not Article.objects.exists()
    upload = {"file": SimpleUploadedFile("a.md", b"# A")}
    assert api_client.post("/api/v1/kb/upload/", upload, format="multipart").status_code == 403
