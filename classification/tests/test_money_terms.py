"""The default rules for payments and card support (migration 0012): what a fintech or shop's customers
write reaches its category, and the migration only adds what a category lacks."""

from __future__ import annotations

import importlib

import pytest

from classification import keywords, rules

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("expected", "body"),
    [
        ("account", "I need to change my PIN before I travel"),
        ("account", "Can I order a physical card as well as the virtual one?"),
        ("account", "Why do you need proof of identity and the source of funds?"),
        ("billing", "My transfer is still pending since Monday"),
        ("billing", "I was charged an extra fee when I topped up"),
        ("billing", "The exchange rate was wrong on my card payment"),
        ("technical", "My card stopped working at the shop today"),
        ("general", "Which currencies do you support?"),
        ("general", "When will my card arrive? I ordered it last week"),
    ],
)
def test_payments_and_card_questions_reach_their_category(expected, body):
    assert keywords.classify(rules.current_rules(), "", body).category == expected


def test_an_admins_own_terms_are_kept_and_nothing_is_added_twice():
    from django.apps import apps

    from classification.models import Category

    migration = importlib.import_module("classification.migrations.0012_money_and_card_terms")
    account = Category.objects.get(slug="account")
    account.keywords = [{"term": "my own term", "weight": 3.0}, {"term": "stolen", "weight": 0.5}]
    account.save()
    migration.add_terms(apps, None)
    migration.add_terms(apps, None)
    account.refresh_from_db()
    terms = [entry["term"] for entry in account.keywords]
    assert terms[:2] == ["my own term", "stolen"] and account.keywords[1]["weight"] == 0.5
    assert len(terms) == len(set(terms)) and "physical card" in terms
