"""The knowledge page: the articles, the search box (whole page and htmx fragment), the upload of files with an
answer per file, its permission and CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge.models import Article
from knowledge.tests import files
from knowledge.tests.factories import article
from tickets.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

UPLOADER_PERMISSIONS = ["tickets.view_ticket", "knowledge.add_article"]


@pytest.fixture
def uploader_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(username="writer", permissions=UPLOADER_PERMISSIONS))
    return client


def test_the_page_lists_articles_and_searches_them(agent_client: Client) -> None:
    article("Refunds", "## Charged twice\n\nA duplicate charge is refunded within five days.")
    article("Exports", "## CSV\n\nExport your data from Settings.")
    page = agent_client.get("/kb/").content.decode()
    assert "Refunds" in page and "Exports" in page and 'aria-current="page">Knowledge<' in page
    found = agent_client.get("/kb/?q=I+was+charged+two+times").content.decode()
    assert "A duplicate charge is refunded" in found and "similarity" in found
    fragment = agent_client.get("/kb/?q=duplicate+charge", headers={"HX-Request": "true"}).content.decode()
    assert 'id="kb-results"' in fragment and "<html" not in fragment
    assert "Nothing in the knowledge base matches" in agent_client.get("/kb/?q=%3F%21").content.decode()
    assert agent_client.get("/kb/?q=" + "x" * 1001).status_code == 400


def test_agents_without_the_permission_get_no_upload_form_and_a_403(agent_client: Client) -> None:
    assert "Upload articles" not in agent_client.get("/kb/").content.decode()
    upload = SimpleUploadedFile("a.md", b"# A\n\nText.")
    assert agent_client.post("/kb/upload/", {"documents": [upload]}).status_code == 403
    assert not Article.objects.exists()


def test_uploading_several_files_answers_for_each(uploader_client: Client) -> None:
    form = uploader_client.get("/kb/").content.decode()
    assert 'accept=".md,.markdown,.txt,.text,.html,.htm,.pdf,.docx"' in form  # the form field's own list
    good_pdf = SimpleUploadedFile(
        "guide.pdf", files.pdf(["Refunds take five days.", "Codes work once."], title="Guide")
    )
    good_md = SimpleUploadedFile("faq.md", b"# FAQ\n\n## Hours\n\nWe answer on weekdays.")
    broken = SimpleUploadedFile("broken.pdf", b"%PDF-1.4 not really")
    wrong = SimpleUploadedFile("slides.pptx", b"PK\x03\x04")
    response = uploader_client.post(
        "/kb/upload/", {"documents": [good_pdf, good_md, broken, wrong], "category": "billing", "published": "on"}
    )
    assert response.status_code == 302 and response["Location"] == "/kb/"
    page = uploader_client.get("/kb/").content.decode()
    assert "guide.pdf: imported as “Guide” (2 passages)." in page
    assert "faq.md: imported as “FAQ”" in page
    assert "broken.pdf: not imported:" in page and "slides.pptx: not imported: unsupported file type" in page
    assert sorted(Article.objects.values_list("source_name", "category")) == [
        ("faq.md", "billing"),
        ("guide.pdf", "billing"),
    ]


def test_a_file_over_the_limit_is_refused_without_reading_it_all(uploader_client: Client, settings: Any) -> None:
    settings.KB_MAX_FILE_BYTES = 100
    uploader_client.post("/kb/upload/", {"documents": [SimpleUploadedFile("big.md", b"# Big\n\n" + b"x" * 500)]})
    assert "big.md: not imported: the file is larger than" in uploader_client.get("/kb/").content.decode()
    assert not Article.objects.exists()


def test_an_upload_without_a_file_is_a_400_that_says_so(uploader_client: Client) -> None:
    response = uploader_client.post("/kb/upload/", {"category": "billing"})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.content.decode()


def test_the_upload_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory.create(username="writer", permissions=UPLOADER_PERMISSIONS))
    response = client.post("/kb/upload/", {"documents": [SimpleUploadedFile("a.md", b"# A\n\nText.")]})
    assert response.status_code == 403 and not Article.objects.exists()


def test_the_pages_need_login(client: Client) -> None:
    assert client.get("/kb/").status_code == 302 and client.get("/kb/gaps/").status_code == 302
