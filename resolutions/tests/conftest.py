"""The dashboard's browser fixtures (a headless Chromium, pages logged in as a user), shared with the tickets'
browser tests."""

from __future__ import annotations

from tickets.tests.conftest import browser, open_page  # noqa: F401  # fixtures, registered by being here
