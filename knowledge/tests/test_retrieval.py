from __future__ import annotations

import pytest

from knowledge import services
from knowledge.models import Chunk
from knowledge.retrieval import search
from knowledge.tests.factories import article

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def base():
    return {
        "refunds": article(
            "Refunds",
            "## Refund window\n\nWe refund any charge within 30 days.\n\n"
            "## Double charges\n\nA duplicate charge is refunded automatically within five days.",
        ),
        "login": article(
            "Logging in and two-factor authentication",
            "## Lost your 2FA device\n\nUse a recovery code, or ask support to reset two-factor authentication.",
        ),
        "export": article("Exporting data", "## CSV export\n\nExport tickets as CSV from Settings."),
    }


def test_the_best_chunk_comes_first_with_its_article(base):
    hits = search("I was charged twice, can I get a refund for the duplicate charge?")
    assert hits[0].chunk.heading == "Double charges" and hits[0].chunk.article == base["refunds"]
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert hits[0].score >= hits[-1].score
    assert search("lost my 2FA device")[0].chunk.article == base["login"]


def test_headings_weigh_more_than_text():
    heading = article("A", "## Invoices\n\nWhere to find them.")
    article("B", "## Billing\n\nInvoices are mailed monthly, with other papers.")
    assert search("invoices")[0].chunk.article == heading


def test_k_limits_the_hits_and_defaults_to_the_setting(base, settings):
    settings.KB_TOP_K = 1
    assert len(search("refund charge")) == 1
    assert len(search("refund charge", k=3)) == 2


def test_unpublished_articles_and_empty_queries_find_nothing(base):
    base["export"].published = False
    services.save_article(base["export"])
    assert search("CSV export") == []
    assert search("the of and ?!") == [] and search("") == []


def test_editing_an_article_rechunks_it_and_the_index_follows(base):
    refunds = base["refunds"]
    refunds.body = "## Chargebacks\n\nDisputes with your bank take 60 days."
    services.save_article(refunds)
    assert list(refunds.chunks.values_list("heading", flat=True)) == ["Chargebacks"]
    assert search("duplicate charge refunded automatically") == []
    assert search("bank dispute")[0].chunk.heading == "Chargebacks"
    refunds.delete()
    assert search("bank dispute") == [] and not Chunk.objects.filter(article_id=refunds.pk).exists()
