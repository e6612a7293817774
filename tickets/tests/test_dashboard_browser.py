"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's Python
package), against the live server and a real Celery worker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classification.services import classify_ticket
from tickets.tests.factories import TicketFactory

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
    # are ordinary synchronous calls.
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server: Any, agent: Any, default_taxonomy: None) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.dialogs = dialogs
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", agent.username)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()


def _mark_document(page: Any) -> None:
    """A flag that survives htmx swaps but not a page load: proves nothing reloaded."""
    page.evaluate("window.__noReload = true")


def test_login_shows_the_overview_and_saves_a_screenshot(page, live_server):
    TicketFactory.create_batch(5, classified=True, category="billing", priority="high")
    page.goto(f"{live_server.url}/")
    assert page.locator("#stats").is_visible() and page.locator("#charts svg").count() == 5
    assert page.locator("#breaker-badge").inner_text().startswith("LLM")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_a_ticket_posted_through_the_form_turns_classified_without_reloading(page, live_server, celery_worker_process):
    celery_worker_process()
    page.goto(f"{live_server.url}/tickets/new/")
    _mark_document(page)
    page.fill("input[name=subject]", "Charged twice for order #77812")
    page.fill("textarea[name=body]", "Please refund the duplicate charge of $30.00.")
    page.click("#ticket-form button[type=submit]")
    row = page.locator("#created-tickets tr").first
    row.locator("[data-status]").wait_for()
    page.wait_for_function(
        "document.querySelector('#created-tickets tr [data-status]').dataset.status === 'classified'", timeout=60_000
    )
    assert "billing" in row.inner_text()
    assert page.evaluate("window.__noReload") is True
    assert page.input_value("input[name=subject]") == ""  # the form cleared itself


def test_filtering_pushes_the_url_and_back_restores_the_full_page(page, live_server):
    TicketFactory.create(subject="Invoice question", body="", classified=True, category="billing")
    TicketFactory.create(subject="App crashes", body="", classified=True, category="technical")
    page.goto(f"{live_server.url}/tickets/")
    _mark_document(page)
    page.select_option("select[name=category]", "billing")
    page.wait_for_url("**/tickets/?*category=billing*")
    page.wait_for_function("!document.querySelector('#ticket-list').innerText.includes('App crashes')")
    assert "Invoice question" in page.locator("#ticket-list").inner_text()
    assert page.evaluate("window.__noReload") is True  # only the list was swapped
    page.go_back()
    page.wait_for_url(f"{live_server.url}/tickets/")
    page.wait_for_function("document.querySelector('#ticket-list').innerText.includes('App crashes')")
    # The whole page, not a bare partial: header, filters and list are all there.
    assert page.locator("header.topbar").is_visible() and page.locator("#filters").is_visible()
    page.reload()  # and the restored URL serves the full page on a fresh load too
    assert page.locator("#filters").is_visible() and "App crashes" in page.locator("#ticket-list").inner_text()


def test_a_correction_is_saved_and_shown_at_once(page, live_server):
    ticket = TicketFactory.create(subject="Refund please", body="I want my money back")
    classify_ticket(ticket.pk)
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    _mark_document(page)
    assert page.inner_text("[data-field=category]") == "billing"
    page.select_option("form.correction select[name=category]", "account")
    page.select_option("form.correction select[name=priority]", "high")
    page.click("form.correction button[type=submit]")
    page.wait_for_function("document.querySelector('[data-field=category]').innerText === 'account'")
    assert "human" in page.inner_text("[data-field=source]")
    assert page.evaluate("window.__noReload") is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "detail.png"), full_page=True)


def test_ticket_text_renders_as_text_and_runs_nothing(page, live_server):
    payload = '<script>window.__xss = 1; alert("xss")</script><img src=x onerror="window.__xss = 2; alert(2)">'
    ticket = TicketFactory.create(subject=payload, body=payload)
    classify_ticket(ticket.pk)
    for url in (f"/tickets/{ticket.pk}/", "/tickets/", "/review/"):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, url
        assert page.locator("img[src=x]").count() == 0, url
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    assert '<script>window.__xss = 1; alert("xss")</script>' in page.inner_text("pre.body")
    assert page.dialogs == []
