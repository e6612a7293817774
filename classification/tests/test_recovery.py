"""Recovery after an LLM outage when no new ticket comes: the periodic task makes the breaker's trial
call itself, with the oldest outage ticket, over real HTTP against the fake LLM."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from classification import services, tasks
from classification.tasks import recover_outage_tickets_task
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids the task publishes for classification (the broker is the e2e tests' business)."""
    sent: list[int] = []

    def record(ids: Sequence[int], *, force: bool = False) -> int:
        sent.extend(ids)
        return len(ids)

    monkeypatch.setattr(tasks, "publish_classification", record)
    return sent


def _outage(fake_llm, settings, count: int) -> list[Ticket]:
    """`count` tickets answered by keywords while the LLM fails: the first trips the breaker. The breaker's
    reset time is long while they are classified (however slow a loaded machine is, none gets a trial call),
    then 0.3 s: the breaker reads it on every call, so the tests wait 0.4 s for the trial to be due."""
    settings.LLM_BREAKER_FAIL_MAX = 1
    settings.LLM_BREAKER_RESET_SECONDS = 60
    fake_llm.state.configure({"mode": "error500"})
    tickets = TicketFactory.create_batch(count, subject="Refund", body="I was charged twice")
    for ticket in tickets:
        services.classify_ticket(ticket.pk)
        ticket.refresh_from_db()
    assert [t.fallback_reason for t in tickets] == ["error"] + ["breaker_open"] * (count - 1)
    settings.LLM_BREAKER_RESET_SECONDS = 0.3
    return tickets


def test_once_the_reset_time_has_passed_recovery_makes_the_trial_call_and_sends_the_rest_back(
    fake_llm, settings, published
):
    oldest, *rest = _outage(fake_llm, settings, 3)
    fake_llm.state.configure({"mode": "ok"})
    time.sleep(0.4)
    recover_outage_tickets_task.apply()
    oldest.refresh_from_db()
    assert oldest.classification_source == "llm" and oldest.status == Status.CLASSIFIED
    assert services.breaker_status()["state"] == "closed"
    assert sorted(published) == sorted(t.pk for t in rest)
    assert fake_llm.state.stats()["requests"] == 2  # the failure that tripped it, and the trial


def test_a_failed_trial_opens_the_breaker_again_and_sends_nothing_else(fake_llm, settings, published):
    oldest, *rest = _outage(fake_llm, settings, 3)
    time.sleep(0.4)
    recover_outage_tickets_task.apply()
    status = services.breaker_status()
    assert status["state"] == "open" and published == []
    assert fake_llm.state.stats()["requests"] == 2
    oldest.refresh_from_db()
    assert (oldest.classification_source, oldest.fallback_reason) == ("keyword", "error")
    assert oldest.classifications.count() == 2

    time.sleep(0.4)
    recover_outage_tickets_task.apply()  # the next trial takes the next-oldest: the last one is newest now
    assert [t.classifications.count() for t in [oldest, *rest]] == [2, 2, 1]
    assert fake_llm.state.stats()["requests"] == 3 and published == []


def test_before_the_reset_time_recovery_calls_nothing(fake_llm, settings, published):
    _outage(fake_llm, settings, 2)
    settings.LLM_BREAKER_RESET_SECONDS = 60
    fake_llm.state.configure({"mode": "ok"})
    recover_outage_tickets_task.apply()
    assert services.breaker_status()["state"] == "open" and published == []
    assert fake_llm.state.stats()["requests"] == 1


def test_a_ticket_a_person_corrected_is_never_the_trial(fake_llm, settings, published):
    [ticket] = _outage(fake_llm, settings, 1)
    services.record_correction(ticket, UserFactory.create(), {"category": "account"})
    fake_llm.state.configure({"mode": "ok"})
    time.sleep(0.4)
    recover_outage_tickets_task.apply()
    ticket.refresh_from_db()
    assert ticket.classification_source == "human" and ticket.category == "account"
    assert fake_llm.state.stats()["requests"] == 1 and published == []
