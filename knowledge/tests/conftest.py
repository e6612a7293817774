from __future__ import annotations

import pytest

# The dashboard's browser fixtures (headless Chromium, pages at a laptop's and a phone's size).
from tickets.tests.conftest import browser, open_page  # noqa: F401


@pytest.fixture(autouse=True)
def _vectors_checked_every_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests write articles and search within the same second: the in-memory vectors follow at once."""
    from knowledge import vectors

    monkeypatch.setattr(vectors, "CHECK_SECONDS", 0.0)
