"""Classification in chunks (`classify_tickets`, the `classification.classify_tickets` task): one claim, one
INSERT and one UPDATE per chunk, with every ticket's own claim, idempotency, history row and the
human-correction rule kept."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from classification import services
from classification.models import Citation, Classification
from classification.tasks import classify_tickets_task, publish_classification
from knowledge import demo as knowledge_demo
from tickets.models import Status, Ticket
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


class _Killed(BaseException):
    """The worker process dies here: nothing after this line of the chunk runs, no cleanup either."""


def _automatic_rows(ids: list[int]) -> dict[int, int]:
    rows = Classification.objects.filter(ticket_id__in=ids).exclude(source="human").values_list("ticket_id", flat=True)
    return {ticket_id: list(rows).count(ticket_id) for ticket_id in ids}


def test_a_chunk_stores_one_history_row_and_the_current_fields_of_each_ticket():
    tickets = [
        TicketFactory.create(subject="Charged twice for order #55123", body="Please refund $20.00."),
        TicketFactory.create(subject="Cannot log in", body="The password reset email never arrives."),
        TicketFactory.create(subject="Do you ship to Canada?", body="And how long does delivery take?"),
    ]
    classify_tickets_task.apply(args=([t.pk for t in tickets],))
    rows = {row.ticket_id: row for row in Classification.objects.all()}
    assert sorted(rows) == sorted(t.pk for t in tickets)
    for ticket in tickets:
        ticket.refresh_from_db()
        row = rows[ticket.pk]
        assert ticket.status == Status.CLASSIFIED and ticket.classified_at == row.created
        assert (ticket.category, ticket.priority, ticket.team, ticket.summary) == (
            row.category,
            row.priority,
            row.team,
            row.summary,
        )
        assert ticket.due_at == ticket.created + {"critical": 1, "high": 4, "medium": 24, "low": 72}[
            ticket.priority
        ] * timedelta(hours=1)
    assert [rows[t.pk].category for t in tickets] == ["billing", "account", "general"]


def test_a_chunk_costs_the_same_queries_whatever_its_size(django_assert_max_num_queries):
    knowledge_demo.load()
    small = [t.pk for t in TicketFactory.create_batch(2)]
    large = [t.pk for t in TicketFactory.create_batch(30)]  # one INSERT even under SQLite's parameter limit
    services.classify_tickets(small)  # the rule set is compiled and cached by the first chunk
    # One of them: which learned model is active; one more: the ticket.classified outbox rows, in one INSERT;
    # four: the customers (read, and inserted on first sight) and their context's two aggregate queries;
    # four to seven: the knowledge base's sources (the words' counts: one statement on SQLite, on PostgreSQL the
    # stems and pg_stats' common lexemes read at most every five minutes; one search; one read of their chunks),
    # and the citations (a check that their chunks are still there, one INSERT).
    with django_assert_max_num_queries(21):
        services.classify_tickets(large)
    assert Ticket.objects.filter(pk__in=large, status=Status.CLASSIFIED).count() == 30
    assert Citation.objects.filter(classification__ticket_id__in=large).exists()


def test_running_a_chunk_task_twice_classifies_each_ticket_once():
    ids = [t.pk for t in TicketFactory.create_batch(5)]
    classify_tickets_task.apply(args=(ids,), task_id="message-1")
    classify_tickets_task.apply(args=(ids,), task_id="message-1")  # redelivered
    classify_tickets_task.apply(args=(ids,), task_id="message-2")  # published twice
    assert _automatic_rows(ids) == dict.fromkeys(ids, 1)
    assert set(Ticket.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.CLASSIFIED}


def test_overlapping_chunks_classify_the_shared_tickets_once():
    ids = [t.pk for t in TicketFactory.create_batch(4)]
    first = services.classify_tickets(ids[:3], claim_token="a")
    second = services.classify_tickets(ids[1:], claim_token="b")
    assert [row.ticket_id for row in first.classified] == ids[:3]
    assert [row.ticket_id for row in second.classified] == ids[3:]
    assert _automatic_rows(ids) == dict.fromkeys(ids, 1)


def test_a_chunk_leaves_tickets_another_worker_holds_to_it():
    free = TicketFactory.create()
    held = TicketFactory.create(status=Status.PROCESSING, status_changed=timezone.now(), claimed_by="other")
    result = services.classify_tickets([free.pk, held.pk], claim_token="mine")
    assert [row.ticket_id for row in result.classified] == [free.pk]
    held.refresh_from_db()
    assert (held.status, held.claimed_by) == (Status.PROCESSING, "other")


def _kill_at(monkeypatch: pytest.MonkeyPatch, ticket_id: int) -> None:
    """The worker dies while classifying `ticket_id`, after writing what came before it (results are
    written as each ticket finishes here): its claims on the rest of the chunk stay behind."""
    real = services._run_chain

    def run_chain(ticket: Ticket, chain: object, given: object = None) -> services.Outcome:
        if ticket.pk == ticket_id:
            raise _Killed
        return real(ticket, chain, given)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "_PERSIST_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(services, "_run_chain", run_chain)
    monkeypatch.setattr(services, "_release", lambda *args: None)  # a killed process releases nothing


def test_after_a_worker_is_killed_mid_chunk_the_redelivered_message_finishes_it(monkeypatch):
    ids = [t.pk for t in TicketFactory.create_batch(5)]
    _kill_at(monkeypatch, ids[2])
    with pytest.raises(_Killed):
        services.classify_tickets(ids, claim_token="message-1")
    monkeypatch.undo()
    statuses = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["classified", "classified", "processing", "processing", "processing"]

    # Another message for the same tickets (the sweep's, say) must not take claims that are not stale yet.
    assert services.classify_tickets(ids, claim_token="message-2").classified == []
    # The same message, redelivered, takes its own claims back at once and classifies only the rest.
    result = services.classify_tickets(ids, claim_token="message-1")
    assert [row.ticket_id for row in result.classified] == ids[2:]
    assert _automatic_rows(ids) == dict.fromkeys(ids, 1)


def test_a_dead_workers_claims_on_a_chunk_are_swept_and_taken_over_once_stale(monkeypatch, settings):
    settings.CELERY_TASK_TIME_LIMIT = 60
    ids = [t.pk for t in TicketFactory.create_batch(4)]
    _kill_at(monkeypatch, ids[1])
    with pytest.raises(_Killed):
        services.classify_tickets(ids, claim_token="dead")
    monkeypatch.undo()
    assert services.find_stuck_tickets() == []  # claims younger than the time limit: the worker may live
    # Minutes later: the claims are older than the time limit, so their worker is gone.
    Ticket.objects.filter(pk__in=ids, claimed_by="dead", status=Status.PROCESSING).update(
        status_changed=timezone.now() - timedelta(minutes=5)
    )
    swept = services.find_stuck_tickets()
    assert sorted(swept) == ids[1:]
    result = services.classify_tickets(swept, claim_token="sweep-message")
    assert sorted(row.ticket_id for row in result.classified) == ids[1:]
    assert _automatic_rows(ids) == dict.fromkeys(ids, 1)


def test_a_correction_made_while_its_chunk_is_in_flight_wins(monkeypatch):
    ids = [t.pk for t in TicketFactory.create_batch(3, subject="Charged twice", body="refund please")]
    agent = UserFactory.create()
    real = services._run_chain

    def run_chain(ticket: Ticket, chain: object, given: object = None) -> services.Outcome:
        if ticket.pk == ids[1]:  # an agent corrects this one while the worker classifies it
            services.record_correction(Ticket.objects.get(pk=ticket.pk), agent, {"category": "account"})
        return real(ticket, chain, given)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "_run_chain", run_chain)
    result = services.classify_tickets(ids)
    assert [row.ticket_id for row in result.classified] == [ids[0], ids[2]]
    corrected = Ticket.objects.get(pk=ids[1])
    assert (corrected.status, corrected.category, corrected.classification_source) == ("classified", "account", "human")
    assert list(corrected.classifications.values_list("source", flat=True)) == ["human"]
    assert _automatic_rows([ids[0], ids[2]]) == {ids[0]: 1, ids[2]: 1}


def test_a_chunk_keeps_human_corrections_unless_forced():
    corrected = TicketFactory.create(subject="Refund please", body="charged twice")
    plain = TicketFactory.create(subject="Refund please", body="charged twice")
    services.record_correction(corrected, UserFactory.create(), {"category": "account"})
    Ticket.objects.filter(pk__in=[corrected.pk, plain.pk]).requeue(from_statuses=[Status.CLASSIFIED, Status.QUEUED])

    result = services.classify_tickets([corrected.pk, plain.pk])
    assert [row.ticket_id for row in result.classified] == [plain.pk]
    corrected.refresh_from_db()
    assert (corrected.status, corrected.category, corrected.classification_source) == ("classified", "account", "human")

    Ticket.objects.filter(pk=corrected.pk).requeue(from_statuses=[Status.CLASSIFIED])
    services.classify_tickets([corrected.pk], force=True)
    corrected.refresh_from_db()
    assert (corrected.category, corrected.classification_source) == ("billing", "keyword")


def test_a_failed_write_stores_nothing_of_the_chunk_and_releases_every_claim(monkeypatch):
    ids = [t.pk for t in TicketFactory.create_batch(3)]

    def disk_full(**kwargs: object) -> int:
        raise DatabaseError("disk full")

    monkeypatch.setattr(Ticket.objects, "complete", disk_full)
    with pytest.raises(DatabaseError):
        services.classify_tickets(ids)
    assert Classification.objects.count() == 0
    assert set(Ticket.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.QUEUED}


def test_past_its_deadline_the_task_hands_back_and_republishes_the_tickets_it_has_not_started(monkeypatch):
    ids = [t.pk for t in TicketFactory.create_batch(3)]
    real = services._run_chain

    def slow_first(ticket: Ticket, chain: object, given: object = None) -> services.Outcome:
        if ticket.pk == ids[0]:
            time.sleep(0.2)  # the deadline passes while the first ticket is classified
        return real(ticket, chain, given)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "_run_chain", slow_first)
    monkeypatch.setattr("classification.tasks._deadline", lambda: time.monotonic() + 0.1)
    published: list[list[int]] = []
    monkeypatch.setattr("classification.tasks.publish_classification", lambda ids, **kw: published.append(ids))
    classify_tickets_task.apply(args=(ids,))
    statuses = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["classified", "queued", "queued"]
    assert published == [ids[1:]]


def test_a_chunk_that_keeps_failing_marks_its_unclassified_tickets_failed(monkeypatch, settings):
    settings.CLASSIFY_MAX_RETRIES = 0
    done = TicketFactory.create(classified=True)
    ids = [t.pk for t in TicketFactory.create_batch(2)]
    monkeypatch.setattr(services, "_run_chain", lambda t, chain, given=None: (_ for _ in ()).throw(ValueError("boom")))
    classify_tickets_task.apply(args=([done.pk, *ids],))
    statuses = dict(Ticket.objects.filter(pk__in=[done.pk, *ids]).values_list("pk", "status"))
    assert statuses == {done.pk: "classified", ids[0]: "failed", ids[1]: "failed"}


def test_tickets_are_published_in_chunks_of_the_configured_size(monkeypatch, settings):
    settings.CLASSIFY_CHUNK_SIZE = 2
    sent: list[list[int]] = []
    monkeypatch.setattr(classify_tickets_task, "apply_async", lambda args, kwargs: sent.append(args[0]))
    assert publish_classification([1, 2, 3, 4, 5]) == 5
    assert sent == [[1, 2], [3, 4], [5]]


def test_a_chunks_llm_calls_are_in_flight_together_up_to_llm_concurrency(fake_llm, settings):
    fake_llm.state.configure({"latency_ms": 300})
    settings.LLM_CONCURRENCY = 4
    ids = [t.pk for t in TicketFactory.create_batch(8)]
    started = time.monotonic()
    result = services.classify_tickets(ids)
    elapsed = time.monotonic() - started
    assert sorted(row.ticket_id for row in result.classified) == ids
    assert {row.source for row in result.classified} == {"llm"}
    stats = fake_llm.state.stats()
    assert stats["requests"] == 8 and stats["max_in_flight"] == 4
    assert elapsed < 8 * 0.3 / 2  # one after the other would take 2.4 s; four at a time, about 0.6 s
    assert _automatic_rows(ids) == dict.fromkeys(ids, 1)


def test_past_its_deadline_a_chunk_on_llm_threads_hands_back_the_tickets_not_started(fake_llm, settings):
    fake_llm.state.configure({"latency_ms": 300})
    settings.LLM_CONCURRENCY = 1
    ids = [t.pk for t in TicketFactory.create_batch(4)]
    result = services.classify_tickets(ids, deadline=time.monotonic() + 0.1)
    # The first call was running when the deadline passed, so it finished; the others never started.
    assert [row.ticket_id for row in result.classified] == ids[:1]
    assert result.released == ids[1:]
    statuses = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["classified", "queued", "queued", "queued"]
    assert fake_llm.state.stats()["requests"] == 1


def test_an_error_on_an_llm_thread_releases_the_whole_chunk(fake_llm, monkeypatch):
    ids = [t.pk for t in TicketFactory.create_batch(3)]
    real = services._run_chain

    def run_chain(ticket: Ticket, chain: object, given: object = None) -> services.Outcome:
        if ticket.pk == ids[1]:
            raise ValueError("boom")
        return real(ticket, chain, given)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "_run_chain", run_chain)
    with pytest.raises(ValueError, match="boom"):
        services.classify_tickets(ids)
    assert Classification.objects.filter(ticket_id__in=ids).count() <= 2  # written before the error, if any
    unfinished = Ticket.objects.filter(pk__in=ids).exclude(status=Status.CLASSIFIED)
    assert set(unfinished.values_list("status", flat=True)) == {Status.QUEUED}  # released, none left claimed
    assert ids[1] in unfinished.values_list("pk", flat=True)


def test_while_the_breaker_is_open_a_chunk_is_answered_by_keywords_at_once(fake_llm, monkeypatch, settings):
    from classification import breaker

    settings.LLM_BREAKER_RESET_SECONDS = 600
    breaker.storage().state = "open"
    breaker.storage().opened_at = timezone.now()
    ids = [t.pk for t in TicketFactory.create_batch(3)]
    monkeypatch.setattr(classify_tickets_task, "apply_async", lambda *args, **kwargs: pytest.fail("not sent back"))
    classify_tickets_task.apply(args=(ids,))
    tickets = Ticket.objects.filter(pk__in=ids)
    assert {(t.status, t.classification_source, t.fallback_reason) for t in tickets} == {
        ("classified", "keyword", "breaker_open")
    }
    assert fake_llm.state.stats()["requests"] == 0
