from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from classification.models import Classification
from incidents import services
from incidents.models import Incident, IncidentStatus, IncidentTicket, SimilarTicket
from incidents.tests.factories import OutageTicketFactory
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _outage(customers: list[str], start: Any = None) -> list[Ticket]:
    start = start or timezone.now() - timedelta(minutes=20)
    tickets = [
        OutageTicketFactory.create(customer_email=email, created=start + timedelta(minutes=i))
        for i, email in enumerate(customers)
    ]
    for ticket in tickets:
        Classification.objects.create(
            ticket=ticket,
            source="keyword",
            category="technical",
            priority="medium",
            sentiment="negative",
            risk=0.5,
            team="tech",
            confidence=0.6,
            suggested_reply="Hi there,\n\nThanks, we are looking into it.\n\nBest regards,\nSupport",
            entities={"error_codes": ["E503"], "urls": ["https://shop.example.com/checkout"]},
        )
    return tickets


def test_similar_tickets_are_found_best_first_and_stored() -> None:
    login = TicketFactory.create(classified=True, subject="Cannot log in", body="Login fails with a wrong password.")
    near = TicketFactory.create(classified=True, subject="Cannot log in to my account", body="Login fails.")
    TicketFactory.create(classified=True, subject="Invoice copy", body="Please send an invoice copy.")

    services.process_classified([login.pk])

    links = list(SimilarTicket.objects.filter(ticket=login).order_by("-score"))
    assert links[0].similar_id == near.pk
    assert 0 < links[0].score <= 1


def test_it_is_idempotent_under_redelivery() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "a@x.io", "b@x.io"])

    services.process_classified([t.pk for t in tickets])
    stored = SimilarTicket.objects.count()
    services.process_classified([t.pk for t in tickets])

    assert SimilarTicket.objects.count() == stored
    assert Incident.objects.count() == 1
    assert IncidentTicket.objects.count() == 6


def test_six_outage_tickets_from_four_customers_open_one_incident() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "a@x.io", "b@x.io"])

    services.process_classified([t.pk for t in tickets])

    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.OPEN
    assert (incident.ticket_count, incident.customer_count) == (6, 4)
    assert incident.first_seen == tickets[0].created and incident.last_seen == tickets[-1].created
    assert "e503" in incident.shared_terms and "checkout" in incident.shared_terms
    assert incident.entities["error_codes"] == ["E503"]


def test_a_ticket_in_an_incident_gets_the_priority_floor_and_the_incident_in_its_reply(settings: Any) -> None:
    settings.INCIDENT_PRIORITY_FLOOR = "high"
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"])

    services.process_classified([t.pk for t in tickets])

    incident = Incident.objects.get()
    ticket = Ticket.objects.get(pk=tickets[0].pk)
    assert ticket.priority == "high"
    assert ticket.due_at == ticket.created + timedelta(hours=4)
    reply = Classification.objects.get(ticket=ticket).suggested_reply
    assert reply.count(f"incident #{incident.pk}") == 1
    assert reply.endswith("it is resolved.\n\nBest regards,\nSupport")  # its own paragraph, before the sign-off


def test_a_young_incidents_growth_shows_no_interval_still_to_come() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"], start=timezone.now() - timedelta(minutes=4))
    services.process_classified([t.pk for t in tickets])
    incident = Incident.objects.get()

    intervals = services.growth(incident)

    assert len(intervals) in (4, 5) and all(i["start"] <= timezone.now() for i in intervals)  # 6 before
    assert sum(i["tickets"] for i in intervals) == 5


def test_a_seventh_matching_ticket_joins_the_open_incident() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "a@x.io", "b@x.io"])
    services.process_classified([t.pk for t in tickets])
    [seventh] = _outage(["e@x.io"], start=timezone.now())

    services.process_classified([seventh.pk])

    incident = Incident.objects.get()
    assert IncidentTicket.objects.get(ticket=seventh).incident == incident
    assert (incident.ticket_count, incident.customer_count) == (7, 5)


def test_too_few_customers_open_no_incident() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "a@x.io", "b@x.io", "a@x.io", "b@x.io"])

    services.process_classified([t.pk for t in tickets])

    assert not Incident.objects.exists()


def test_tickets_spread_over_more_than_the_window_open_no_incident() -> None:
    start = timezone.now() - timedelta(hours=10)
    tickets = [_outage([f"{i}@x.io"], start=start + timedelta(hours=i))[0] for i in range(6)]

    services.process_classified([t.pk for t in tickets])

    assert not Incident.objects.exists()


def test_a_closed_incident_takes_no_new_tickets() -> None:
    tickets = _outage(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"])
    services.process_classified([t.pk for t in tickets])
    incident = services.set_incident_status(Incident.objects.get(), IncidentStatus.CLOSED, None, via="api")
    [late] = _outage(["f@x.io"], start=timezone.now())

    services.process_classified([late.pk])

    assert incident.closed_at is not None
    assert not IncidentTicket.objects.filter(ticket=late).exists()


def test_the_same_customer_writing_again_is_a_likely_duplicate() -> None:
    first = TicketFactory.create(
        classified=True, customer_email="ann@x.io", subject="Refund for order 1234", body="I want a refund."
    )
    again = TicketFactory.create(
        classified=True, customer_email="ann@x.io", subject="Refund order 1234 please", body="Still no refund."
    )
    other = TicketFactory.create(
        classified=True, customer_email="bob@x.io", subject="Refund for order 99", body="I want a refund."
    )

    services.process_classified([first.pk, again.pk, other.pk])

    assert Ticket.objects.get(pk=again.pk).likely_duplicate_of_id == first.pk
    assert Ticket.objects.get(pk=first.pk).likely_duplicate_of_id is None  # the earlier one is the original
    assert Ticket.objects.get(pk=other.pk).likely_duplicate_of_id is None


def test_confirming_a_duplicate_links_both_and_keeps_them() -> None:
    original, copy, third = TicketFactory.create_batch(3)

    services.confirm_duplicate(copy, original, via="api")
    services.confirm_duplicate(third, copy, via="api")  # a duplicate of a duplicate links to the original

    assert Ticket.objects.get(pk=copy.pk).duplicate_of_id == original.pk
    assert Ticket.objects.get(pk=third.pk).duplicate_of_id == original.pk
    with pytest.raises(services.DuplicateRefused):
        services.confirm_duplicate(original, copy, via="api")


def test_similar_tickets_on_demand_include_later_tickets_that_found_it() -> None:
    first = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="VPN drops", body="VPN drops.")
    later = TicketFactory.create(classified=True, customer_email="ann@x.io", subject="VPN drops again", body="Again.")
    services.process_classified([later.pk])

    found = services.similar_tickets(first)

    assert [f.ticket.pk for f in found] == [later.pk]
    assert found[0].same_customer


def test_confirmed_duplicates_leave_the_overview_volume() -> None:
    from tickets import stats

    original, copy, _other = TicketFactory.create_batch(3, classified=True, category="billing")
    before = stats.period_summary(stats.default_period())["received"]
    services.confirm_duplicate(copy, original, via="api")

    summary = stats.period_summary(stats.default_period())
    charts = stats._charts(stats.default_period(), [("billing", "Billing")])

    assert (summary["received"], summary["duplicates"]) == (before - 1, 1)
    assert sum(bar.value for bar in charts["volume"]) == 2
    assert [bar.value for bar in charts["categories"] if bar.label == "Billing"] == [2]


def _texts(n: int) -> list[Ticket]:
    subjects = ["Cannot log in", "Refund for order", "Export to CSV fails", "App crashes on start"]
    return [
        TicketFactory.create(
            classified=True,
            subject=f"{subjects[i % 4]} {i}",
            body=f"{subjects[i % 4]}, help.",
            customer_email="same@example.com",  # one customer: same-customer lookups, and no incident
        )
        for i in range(n)
    ]


def test_a_chunk_stores_what_each_ticket_processed_alone_stores() -> None:
    tickets = _texts(12)
    services.process_classified([t.pk for t in tickets])
    together = sorted(SimilarTicket.objects.values_list("ticket_id", "similar_id", "score"))
    flags = sorted(Ticket.objects.values_list("pk", "likely_duplicate_of_id"))
    SimilarTicket.objects.all().delete()
    Ticket.objects.update(likely_duplicate_of=None)

    for ticket in tickets:
        services.process_classified([ticket.pk])

    assert sorted(SimilarTicket.objects.values_list("ticket_id", "similar_id", "score")) == together
    assert sorted(Ticket.objects.values_list("pk", "likely_duplicate_of_id")) == flags
    assert len(together) > 12


def test_a_chunk_without_incidents_costs_the_same_queries_whatever_its_size(
    django_assert_max_num_queries: Any,
) -> None:
    # One search (on PostgreSQL; SQLite's in-process FTS5 takes one per ticket), one row load, one transaction for
    # links and flags, one membership read, one
    # same-customer lookup: nothing per ticket.
    small, large = _texts(8), _texts(40)
    counts = []
    for chunk in (small, large):
        with django_assert_max_num_queries(60) as captured:
            services.process_classified([t.pk for t in chunk])
        # SQLite's INSERT of the links is split by its bound-parameter limit.
        counts.append(
            [
                q["sql"]
                for q in captured.captured_queries
                if "search_ticket_fts" not in q["sql"]
                and not (q["sql"].startswith("INSERT") and "incidents_similar" in q["sql"])
            ]
        )

    assert len(counts[0]) == len(counts[1]) <= 10, counts[1]
