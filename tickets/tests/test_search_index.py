"""The free-text search is served by trigram indexes on PostgreSQL (migrations 0005, 0008); SQLite scans."""

from __future__ import annotations

import pytest
from django.db import connection

from tickets.filters import TicketFilter
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

TRIGRAM_INDEXES = {
    "ticket_subject_trgm_idx",
    "ticket_body_trgm_idx",
    "ticket_customer_name_trgm_idx",
    "ticket_customer_email_trgm_idx",
}


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, Ticket._meta.db_table))


def test_trigram_indexes_exist_on_postgresql_only():
    if connection.vendor == "postgresql":
        assert _index_names() >= TRIGRAM_INDEXES
    else:
        assert not TRIGRAM_INDEXES & _index_names()


def test_the_search_query_matches_the_index_expression():
    TicketFactory.create(subject="Printer on fire", body="The zzqxj printer is on fire")
    TicketFactory.create(subject="Refund", body="Please refund me")
    search = TicketFilter({"search": "ZZQXJ"}, queryset=Ticket.objects.order_by()).qs
    assert [t.subject for t in search] == ["Printer on fire"]  # case-insensitive, in the body
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its options
    plan = search.explain()
    assert all(name in plan for name in TRIGRAM_INDEXES), plan
