from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tickets.tests.conftest import browser, open_page  # noqa: F401 - the dashboard's browser fixtures, for test_browser
from tickets.tests.factories import TicketFactory

THEMES = {
    "refund": "I want a refund for the duplicate charge on my card, please refund the payment",
    "password": "I cannot reset my password, the reset link never arrives and I am locked out of login",
    "delivery": "My parcel delivery is late, the tracking number shows no delivery update for days",
}


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    """The run steps the services publish, recorded instead of sent (tests drive the steps themselves)."""
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr("analysis.tasks.publish", lambda step, run_id, index=None: sent.append((step, run_id, index)))
    yield sent


@pytest.fixture
def week_of_tickets(db: None) -> list[Any]:
    """30 classified tickets this week in three clear themes (10 each), and 6 refund tickets the week before."""
    now = timezone.now()
    tickets = []
    for number in range(10):
        for theme, text in THEMES.items():
            tickets.append(
                TicketFactory.create(
                    classified=True,
                    subject=f"{theme} problem {number}",
                    body=f"{text} (order {number})",
                    created=now - timedelta(hours=number + 1),
                    risk=0.1 + number / 20,
                    category="billing" if theme == "refund" else "account" if theme == "password" else "general",
                )
            )
    for number in range(6):
        TicketFactory.create(
            classified=True, subject=f"refund {number}", body=THEMES["refund"], created=now - timedelta(days=9)
        )
    return tickets
