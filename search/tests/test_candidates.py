from __future__ import annotations

import pytest

from search import backends
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_terms_are_plain_words_without_stop_words_or_query_syntax() -> None:
    assert backends.terms('The "checkout" is DOWN -- error E503 (NOT) for me*') == ["checkout", "down", "error", "e503"]


def test_it_finds_tickets_sharing_words_best_first() -> None:
    outage = TicketFactory.create(subject="Checkout down with error E503", body="Payment page fails since noon.")
    weaker = TicketFactory.create(subject="Question about invoices", body="Is checkout down for maintenance today?")
    TicketFactory.create(subject="Password reset", body="I forgot my password.")

    found = backends.candidates("Checkout down: E503 error", "the payment page fails")

    assert found[:2] == [outage.pk, weaker.pk]
    assert len(found) == 2


def test_it_leaves_out_the_ticket_asked_about_and_text_without_words() -> None:
    ticket = TicketFactory.create(subject="Refund for order 1234", body="Please refund order 1234.")

    assert backends.candidates(ticket.subject, ticket.body, exclude=ticket.pk) == []
    assert backends.candidates("?!", "") == []


def test_the_index_follows_edits_and_deletes() -> None:
    ticket = TicketFactory.create(subject="Printer jammed", body="The printer is jammed.")
    ticket.subject, ticket.body = "Scanner broken", "The scanner is broken."
    ticket.save(update_fields=["subject", "body"])

    assert backends.candidates("printer jammed") == []
    assert backends.candidates("scanner") == [ticket.pk]
    ticket.delete()
    assert backends.candidates("scanner") == []


def test_it_caps_the_candidates() -> None:
    TicketFactory.create_batch(5, subject="Login fails", body="Cannot log in.")

    assert len(backends.candidates("login fails", limit=3)) == 3


def test_a_chunk_of_queries_finds_what_each_query_finds_alone() -> None:
    login = TicketFactory.create(subject="Cannot log in", body="Login fails after the password reset.")
    refund = TicketFactory.create(subject="Refund for order 77", body="Please refund order 77.")
    TicketFactory.create(subject="Login fails again", body="Still cannot log in.")
    queries = [
        backends.query_for(login.subject, login.body, login.pk),
        backends.query_for("?!", ""),
        backends.query_for(refund.subject, refund.body, refund.pk),
        backends.query_for("login refund", ""),
    ]

    found = backends.candidates_many(queries, limit=5)

    alone = [backends.candidates(q.subject, " ".join(q.words), limit=5, exclude=q.exclude) for q in queries]
    assert found == alone
    assert found[1] == [] and found[2] == [] and login.pk not in found[0] and found[0]
