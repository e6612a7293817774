"""The knowledge pages in real headless Chromium: an uploaded PDF is listed and found by the search box at
once, at a laptop's size and a phone's, with no sideways scroll and a clean accessibility pass."""

from __future__ import annotations

import pytest

from knowledge.models import Article
from knowledge.tests import files
from tickets.tests.conftest import SIZES, axe_violations, needs_chromium, screenshot, sideways_overflow
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.mark.parametrize("size", list(SIZES))
def test_an_uploaded_pdf_is_listed_and_searchable(open_page, size):
    writer = UserFactory.create(username="writer", permissions=["tickets.view_ticket", "knowledge.add_article"])
    page = open_page(writer, size)
    page.goto(page.base + "/kb/")
    assert axe_violations(page) == [] and sideways_overflow(page) == 0
    pdf = files.pdf(
        ["Chargebacks are answered from the Disputes page.", "Wire transfers to suppliers leave on Tuesdays."],
        title="Supplier payments guide",
    )
    page.get_by_label("Files").set_input_files(
        [
            {"name": "suppliers.pdf", "mimeType": "application/pdf", "buffer": pdf},
            {"name": "empty.md", "mimeType": "text/markdown", "buffer": b""},
        ]
    )
    page.get_by_label("Category (optional)").select_option("billing")
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    page.wait_for_url(page.base + "/kb/")
    messages = page.locator(".messages")
    assert "suppliers.pdf: imported as “Supplier payments guide” (2 passages)." in messages.inner_text()
    assert "empty.md: not imported: the file is empty." in messages.inner_text()
    assert page.locator("table.kb-articles", has_text="Supplier payments guide").count() == 1
    assert Article.objects.get(source_name="suppliers.pdf").category == "billing"

    page.get_by_label("Search the knowledge base").fill("when do transfers to my suppliers go out?")
    page.get_by_role("button", name="Search").click()
    first = page.locator("#kb-results li").first
    first.wait_for()
    assert "Supplier payments guide" in first.inner_text() and "page 2" in first.inner_text()
    assert "q=when" in page.url  # the search is in the address bar, for back and reload
    assert axe_violations(page) == [] and sideways_overflow(page) == 0
    screenshot(page, f"knowledge-{size}")
    assert page.failed_responses == []


@pytest.mark.parametrize("size", list(SIZES))
def test_the_gap_report_fits_and_passes_axe(open_page, agent, size):
    TicketFactory.create(category="general", subject="Parcel arrived damaged", body="The box was wet.")
    page = open_page(agent, size)
    page.goto(page.base + "/kb/gaps/")
    assert "Parcel arrived damaged" in page.locator("main").inner_text()
    assert axe_violations(page) == [] and sideways_overflow(page) == 0
    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/kb/gaps/?days=7")
    screenshot(page, f"kb-gaps-{size}")
    assert page.failed_responses == []
