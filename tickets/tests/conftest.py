"""Browser fixtures for the dashboard tests: a headless Chromium per test module (Debian's /usr/bin/chromium,
driven by Playwright's Python package), pages at a desktop and a phone size, logged in as the agent without
going through the login form, and the accessibility and layout checks every page must pass."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
# The sizes every page is tried at: a laptop, and a phone held upright.
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
    # are ordinary synchronous calls. Module-scoped, so the environment variable that says so is gone again
    # before other modules run (a child process that inherits it fails `check --deploy`).
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
def open_page(browser: Any, live_server: Any, default_taxonomy: None) -> Iterator[Callable[..., Any]]:
    """open_page(user, size="desktop") -> a Playwright page at that size, logged in as `user` (the session
    cookie of a real login, without typing it), which records dialogs and every failed response."""
    contexts: list[Any] = []

    def open_(user: Any, size: str = "desktop") -> Any:
        context = browser.new_context(
            viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone", accept_downloads=True
        )
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.dialogs = []
        page.accept_dialogs = False  # a test that answers "OK" to a confirmation sets this
        page.failed_responses = []

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)
            if page.accept_dialogs:
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on(
            "response",
            lambda response: response.status >= 400 and page.failed_responses.append((response.status, response.url)),
        )
        page.base = live_server.url
        return page

    yield open_
    for context in contexts:
        context.close()


def axe_violations(page: Any) -> list[str]:
    """Run axe-core (served from the test assets, never a CDN) on the page as it is now: WCAG 2.1 A and AA
    rules, which include labels on every control, colour contrast and landmarks. Returns one line per
    violation with the elements it found."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        f"{item['id']} ({item['impact']}): {item['help']} — "
        + ", ".join(str(node["target"]) for node in item["nodes"][:5])
        for item in result["violations"]
    ]


def sideways_overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def mark_document(page: Any) -> None:
    """A flag that survives htmx swaps but not a page load: proves nothing reloaded."""
    page.evaluate("window.__noReload = true")


def screenshot(page: Any, name: str) -> Path:
    folder = ARTIFACTS / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
