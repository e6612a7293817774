"""The content-gap report: scores stored per ticket in knowledge's own TicketMatch, computed in bounded batches
for a period, re-computed once the knowledge base changes; the API, the page and the command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from classification import services as classification
from knowledge import demo, gaps, grounding, retrieval
from knowledge.models import TicketMatch
from knowledge.tests.factories import article
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

PARCEL = ("Parcel arrived damaged", "The box of the parcel was wet and the glass inside broken. I want a new one.")


@pytest.fixture
def desk() -> dict[str, Any]:
    demo.load()
    return {
        "answered": TicketFactory.create(
            category="billing", subject="Charged twice", body="The same payment is on my card two times, refund one."
        ),
        "gap": TicketFactory.create(category="general", subject=PARCEL[0], body=PARCEL[1]),
        "old": TicketFactory.create(
            category="general", subject=PARCEL[0], body=PARCEL[1], created=timezone.now() - timedelta(days=60)
        ),
    }


def test_the_api_lists_the_periods_gaps_by_category(desk, api_client):
    body = api_client.get("/api/v1/kb/gaps/?days=30").json()
    assert body["scored"] == 2 and body["gaps"] == 1 and body["pending"] == 0
    [general] = body["categories"]
    assert general["category"] == "general" and general["gaps"] == 1 and general["scored"] == 1
    assert general["tickets"][0]["id"] == desk["gap"].pk
    assert general["tickets"][0]["similarity"] < body["threshold"]
    # Only the period's tickets were scored; the answered one is well above the threshold.
    assert set(TicketMatch.objects.values_list("ticket_id", flat=True)) == {desk["answered"].pk, desk["gap"].pk}
    answered = TicketMatch.objects.get(ticket=desk["answered"])
    assert answered.similarity >= body["threshold"] and answered.article is not None
    assert answered.article.source_name == "demo/refunds.md"


def test_a_longer_period_takes_older_tickets_in(desk, api_client):
    body = api_client.get("/api/v1/kb/gaps/?days=90").json()
    assert body["scored"] == 3 and body["categories"][0]["gaps"] == 2


def test_writing_the_missing_article_closes_the_gap(desk, api_client):
    assert api_client.get("/api/v1/kb/gaps/").json()["gaps"] == 1
    article(
        "Damaged deliveries",
        "## A parcel arrived damaged\n\nIf the box was wet or the goods inside broken, we send a new parcel.",
    )
    body = api_client.get("/api/v1/kb/gaps/").json()
    assert body["gaps"] == 0 and body["scored"] == 2
    nearest = TicketMatch.objects.get(ticket=desk["gap"]).article
    assert nearest is not None and nearest.title == "Damaged deliveries"


def test_scoring_is_bounded_per_request_and_says_what_is_pending(desk, api_client, settings):
    settings.KB_GAP_SCORE_BATCH = 1
    first = api_client.get("/api/v1/kb/gaps/").json()
    assert first["scored"] == 1 and first["pending"] == 1
    second = api_client.get("/api/v1/kb/gaps/").json()
    assert second["scored"] == 2 and second["pending"] == 0
    assert TicketMatch.objects.count() == 2


def test_a_ticket_nothing_matches_scores_zero_and_a_score_is_its_best_hits_similarity(desk):
    nothing = TicketFactory.create(subject="", body="?!")
    assert gaps.score([nothing, desk["answered"]]) == 2
    assert TicketMatch.objects.get(ticket=nothing).similarity == 0.0
    hits = retrieval.search(grounding.query_text(desk["answered"].subject, desk["answered"].body))
    stored = TicketMatch.objects.get(ticket=desk["answered"])
    assert stored.similarity == pytest.approx(max(h.similarity or 0 for h in hits))


def test_a_bad_period_is_a_400_and_outsiders_are_refused(desk, api_client, outsider):
    assert api_client.get("/api/v1/kb/gaps/?days=0").status_code == 400
    assert api_client.get("/api/v1/kb/gaps/?days=9999").status_code == 400
    client = Client()
    client.force_login(outsider)
    assert client.get("/api/v1/kb/gaps/").status_code == 403
    assert client.get("/kb/gaps/").status_code == 403


def test_the_page_groups_the_gaps_under_category_names(desk, agent_client, default_taxonomy):
    body = agent_client.get("/kb/gaps/?days=30").content.decode()
    assert "Content gaps" in body and "General" in body and PARCEL[0] in body
    assert f"/tickets/{desk['gap'].pk}/" in body and f"/tickets/{desk['answered'].pk}/" not in body
    assert "1 of 1 tickets (100%)" in body
    assert agent_client.get("/kb/gaps/?days=x").status_code == 400


def test_the_command_scores_everything_and_prints_the_report(desk):
    out = StringIO()
    call_command("kb_gaps", "--days", "90", stdout=out)
    text = out.getvalue()
    assert "3 tickets scored; 2 of 3 are gaps" in text and f"#{desk['gap'].pk}" in text


def test_classification_stores_the_scores_of_the_tickets_it_grounds(desk, default_taxonomy, settings):
    queued = [
        TicketFactory.create(subject="Charged twice", body="The same payment is on my card two times, refund one."),
        TicketFactory.create(subject=PARCEL[0], body=PARCEL[1]),
    ]
    classification.classify_tickets([t.pk for t in queued])
    stored = {m.ticket_id: (m.similarity, m.article_id) for m in TicketMatch.objects.filter(ticket__in=queued)}
    TicketMatch.objects.all().delete()

    assert gaps.score(queued) == 2  # what the report's own scoring finds: the same search, the same scores
    rescored = {m.ticket_id: (m.similarity, m.article_id) for m in TicketMatch.objects.filter(ticket__in=queued)}
    assert stored.keys() == rescored.keys() == {t.pk for t in queued}
    for pk, (similarity, article_id) in stored.items():
        assert similarity == pytest.approx(rescored[pk][0], abs=1e-6) and article_id == rescored[pk][1]
    assert stored[queued[0].pk][0] > settings.KB_GAP_SIMILARITY > stored[queued[1].pk][0]  # answered; a gap


def test_with_grounding_off_classification_stores_no_score(desk, default_taxonomy, settings):
    settings.KB_TOP_K = 0
    ticket = TicketFactory.create(subject="Charged twice", body="Refund the second payment please.")
    classification.classify_tickets([ticket.pk])

    assert not TicketMatch.objects.filter(ticket=ticket).exists()  # nothing was searched: no false gap
