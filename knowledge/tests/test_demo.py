from __future__ import annotations

import pytest

from knowledge import demo
from knowledge.models import Article
from knowledge.retrieval import search

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("I was charged twice this month", "demo/refunds.md"),
        ("How long does my refund take to reach my card?", "demo/refunds.md"),
        ("lost my phone, can't get past two-factor", "demo/login-and-2fa.md"),
        ("Is the service down? Getting 503 errors", "demo/outages.md"),
        ("How do I export all my tickets to CSV?", "demo/exporting-data.md"),
        ("Where can I download last month's invoice?", "demo/invoices-and-billing.md"),
        ("Please delete my personal data (GDPR)", "demo/deleting-an-account.md"),
        ("API returns 429 too many requests", "demo/api-limits.md"),
    ],
)
def test_the_demo_articles_answer_typical_questions(question, article):
    demo.load()
    assert article in [hit.chunk.article.source_name for hit in search(question, k=3)]


def test_every_demo_article_has_a_category_and_an_edited_one_is_kept():
    assert demo.load() == len(demo.CATEGORIES) == Article.objects.count()
    assert all(Article.objects.values_list("category", flat=True))
    refunds = Article.objects.get(source_name="demo/refunds.md")
    refunds.title = "Our refunds"
    refunds.save(update_fields=["title"])
    assert demo.load() == 0 and Article.objects.get(pk=refunds.pk).title == "Our refunds"
