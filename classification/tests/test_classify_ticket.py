from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from classification import services
from classification.models import Classification
from classification.tasks import classify_ticket_task, sweep_stuck_tickets_task
from supportintel import publishing
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_classifies_a_queued_ticket_with_every_field():
    ticket = TicketFactory.create(subject="Charged twice for order #55123", body="Please refund $20.00 to my card.")
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    row = Classification.objects.get(ticket=ticket)
    assert ticket.status == Status.CLASSIFIED
    assert ticket.category == row.category == "billing"
    assert ticket.classification_source == "keyword" and ticket.fallback_reason == "not_configured"
    assert row.entities["order_ids"] == ["55123"] and row.entities["amounts"] == ["$20.00"]
    assert row.summary and row.suggested_reply and row.team == ticket.team == "billing"
    assert ticket.due_at == ticket.created + timedelta(
        hours={"critical": 1, "high": 4, "medium": 24, "low": 72}[ticket.priority]
    )


def test_running_twice_leaves_one_automatic_classification():
    ticket = TicketFactory.create()
    services.classify_ticket(ticket.pk)
    services.classify_ticket(ticket.pk)
    assert Classification.objects.filter(ticket=ticket).count() == 1


def test_task_is_idempotent_and_acks_late():
    ticket = TicketFactory.create()
    classify_ticket_task.apply(args=(ticket.pk,))
    classify_ticket_task.apply(args=(ticket.pk,))
    assert Classification.objects.filter(ticket=ticket).count() == 1
    assert classify_ticket_task.acks_late is True
    assert classify_ticket_task.name == "classification.classify_ticket"


def test_a_missing_ticket_is_tolerated():
    assert services.classify_ticket(987654) is None
    assert Classification.objects.count() == 0


def test_classification_row_and_ticket_fields_are_written_in_one_transaction(monkeypatch):
    ticket = TicketFactory.create()

    def failing_update(*args, **kwargs):
        raise DatabaseError("disk full")

    # The history row is inserted first; the ticket update then fails: neither may remain.
    monkeypatch.setattr("classification.services.current_fields", failing_update)
    with pytest.raises(DatabaseError):
        services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert Classification.objects.count() == 0
    assert ticket.status == Status.QUEUED  # released for the retry


def test_task_marks_ticket_failed_with_its_error_once_retries_are_spent(monkeypatch):
    ticket = TicketFactory.create()
    monkeypatch.setattr(
        "classification.services._run_chain", lambda t, chain: (_ for _ in ()).throw(ValueError("boom"))
    )
    result = classify_ticket_task.apply(args=(ticket.pk,))
    ticket.refresh_from_db()
    assert result.failed()
    assert ticket.status == Status.FAILED
    assert ticket.last_error == "ValueError: boom"


def test_a_human_correction_wins_over_automatic_reclassification():
    ticket = TicketFactory.create(subject="Refund please")
    agent = UserFactory.create()
    services.record_correction(ticket, agent, {"category": "account"})
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.QUEUED)
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.category == "account" and ticket.classification_source == "human"
    assert ticket.status == Status.CLASSIFIED
    assert Classification.objects.filter(ticket=ticket, source="keyword").count() == 0


def test_forced_reclassification_overwrites_a_correction_and_keeps_it_in_history():
    ticket = TicketFactory.create(subject="Refund please", body="charged twice")
    services.record_correction(ticket, UserFactory.create(), {"category": "account"})
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.QUEUED)
    services.classify_ticket(ticket.pk, force=True)
    ticket.refresh_from_db()
    assert ticket.category == "billing" and ticket.classification_source == "keyword"
    assert list(ticket.classifications.values_list("source", flat=True)) == ["keyword", "human"]


def test_correction_records_author_and_becomes_current():
    ticket = TicketFactory.create(classified=True)
    agent = UserFactory.create(username="alice")
    row = services.record_correction(ticket, agent, {"category": "billing", "priority": "high"})
    ticket.refresh_from_db()
    assert row.author == agent and row.source == "human" and row.confidence == 1.0
    assert (ticket.category, ticket.priority, ticket.team) == ("billing", "high", "billing")  # routed by category


@pytest.mark.parametrize(
    ("values", "team"),
    [
        ({"category": "account", "team": "product"}, "product"),
        ({"category": "account", "priority": "critical"}, "escalation"),
    ],
)
def test_correction_team_is_the_chosen_one_or_the_routing_rule(values, team):
    ticket = TicketFactory.create(classified=True)
    services.record_correction(ticket, UserFactory.create(), values)
    ticket.refresh_from_db()
    assert ticket.team == team


def test_a_ticket_being_classified_is_not_claimed_again():
    ticket = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now())
    assert services.classify_ticket(ticket.pk) is None
    assert Classification.objects.count() == 0


def test_a_claim_left_by_a_dead_worker_is_taken_over():
    ticket = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now() - timedelta(hours=1))
    assert services.classify_ticket(ticket.pk) is not None
    ticket.refresh_from_db()
    assert ticket.status == Status.CLASSIFIED


def test_sweep_republishes_tickets_left_queued_too_long(monkeypatch, settings):
    settings.QUEUED_STALE_SECONDS = 60
    # A running broker that has kept its messages (on Redis the first sweep ever, or any sweep after Redis lost
    # its keys, republishes every queued ticket: that is tested with the broker faults).
    publishing.broker_lost_messages()
    old = TicketFactory.create(status_changed=timezone.now() - timedelta(minutes=5))
    TicketFactory.create()  # queued just now: its message is probably still on its way
    TicketFactory.create(classified=True, status_changed=timezone.now() - timedelta(days=1))
    published = []

    def publish(ids, **kwargs):
        published.extend(ids)
        return len(ids)

    monkeypatch.setattr("classification.tasks.publish_classification", publish)
    sweep_stuck_tickets_task.apply()
    assert published == [old.pk]
    old.refresh_from_db()
    assert old.status_changed > timezone.now() - timedelta(seconds=10)  # not swept again next minute


def test_classifying_and_correcting_change_the_tickets_updated_time():
    ticket = TicketFactory.create()
    long_ago = timezone.now() - timedelta(days=2)
    Ticket.objects.filter(pk=ticket.pk).update(updated=long_ago)
    services.classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.updated > long_ago and ticket.updated == ticket.classified_at

    Ticket.objects.filter(pk=ticket.pk).update(updated=long_ago)
    services.record_correction(ticket, UserFactory.create(), {"category": "general"})
    ticket.refresh_from_db()
    assert ticket.updated > long_ago and ticket.updated == ticket.classified_at


def test_a_retry_of_the_same_message_takes_its_own_claim_back_at_once():
    # The database went away after the claim and before the release: the ticket is left `processing`.
    ticket = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now(), claimed_by="message-1")
    assert services.classify_ticket(ticket.pk, claim_token="message-2") is None  # another message: not ours
    assert services.classify_ticket(ticket.pk, claim_token="message-1") is not None
    ticket.refresh_from_db()
    assert ticket.status == Status.CLASSIFIED and Classification.objects.filter(ticket=ticket).count() == 1


def test_a_database_error_is_retried_soon_with_the_message_id_as_claim_token(monkeypatch, settings):
    settings.CLASSIFY_RETRY_MAX_DELAY_SECONDS = 10
    ticket = TicketFactory.create()
    seen = []

    def database_down(ticket_ids, *, force=False, claim_token="", deadline=None):
        seen.append(claim_token)
        raise DatabaseError("connection refused")

    retries = []

    def retry(exc, countdown):
        retries.append(countdown)
        return exc

    monkeypatch.setattr("classification.services.classify_tickets", database_down)
    monkeypatch.setattr(classify_ticket_task, "retry", retry)
    with pytest.raises(DatabaseError):
        classify_ticket_task.apply(args=(ticket.pk,), task_id="message-9", throw=True)
    assert seen == ["message-9"]
    assert len(retries) == 1 and 0.5 <= retries[0] <= 1.0  # the first retry comes within a second


def test_retry_delays_grow_but_stay_under_the_cap(settings):
    from classification.tasks import _retry_delay

    settings.CLASSIFY_RETRY_MAX_DELAY_SECONDS = 10
    assert all(_retry_delay(n) <= 10 for n in range(40))
    assert _retry_delay(30) >= 5  # capped, not zero: no busy loop against a dead database


def test_marking_failed_with_the_database_down_leaves_the_ticket_for_the_sweep(monkeypatch):
    ticket = TicketFactory.create()

    def down(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("django.db.models.query.QuerySet.update", down)
    services.mark_failed([ticket.pk], "OperationalError: connection refused")  # does not raise
    monkeypatch.undo()
    ticket.refresh_from_db()
    assert ticket.status == Status.QUEUED


def test_a_sweep_sends_every_flagged_ticket_in_batches_and_each_once(monkeypatch):
    monkeypatch.setattr(services, "SWEEP_BATCH_SIZE", 3)
    flagged = TicketFactory.create_batch(7, unpublished=True)
    dead_claim = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now() - timedelta(hours=1))
    batches = []

    def publish(ids, **kwargs):
        batches.append(list(ids))
        return len(ids)

    monkeypatch.setattr("classification.tasks.publish_classification", publish)
    sweep_stuck_tickets_task.apply()
    sent = [ticket_id for batch in batches for ticket_id in batch]
    assert sorted(sent) == sorted([t.pk for t in flagged] + [dead_claim.pk]) and len(batches) == 3
    assert not Ticket.objects.filter(unpublished=True).exists()
    dead_claim.refresh_from_db()
    assert dead_claim.status == Status.QUEUED  # a dead worker's claim goes back to the queue


def test_when_the_broker_lost_its_messages_every_queued_ticket_is_published_again(monkeypatch):
    waiting = TicketFactory.create_batch(3)  # published once, their messages gone with Redis's memory
    done = TicketFactory.create(classified=True)
    monkeypatch.setattr("supportintel.publishing.broker_lost_messages", lambda: True)
    published = []

    def publish(ids, **kwargs):
        published.extend(ids)
        return len(ids)

    monkeypatch.setattr("classification.tasks.publish_classification", publish)
    sweep_stuck_tickets_task.apply()
    assert sorted(published) == sorted(t.pk for t in waiting) and done.pk not in published
