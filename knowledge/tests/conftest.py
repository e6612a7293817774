from __future__ import annotations

# The dashboard's browser fixtures (headless Chromium, pages at a laptop's and a phone's size).
from tickets.tests.conftest import browser, open_page  # noqa: F401
