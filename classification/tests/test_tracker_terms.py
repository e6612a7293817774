"""The default rules read bug reports, feature requests and how-to questions the way people write them on
public trackers and support forms (migration 0009). These texts were written for this test from how such
reports read; they are a regression check, not an evaluation (no evaluation set was used to pick terms)."""

from __future__ import annotations

import pytest

from classification import keywords, rules

pytestmark = pytest.mark.django_db

REPORTS = [
    (
        "bug_report",
        "Crash on save",
        "Steps to reproduce: open a file, press Ctrl+S. Expected behavior: the file is saved. Actual behavior: the "
        "app closes. Traceback: TypeError: cannot read property 'x' of undefined",
    ),
    (
        "bug_report",
        "Export no longer works",
        "Since 2.3 the CSV export no longer works, it used to work in 2.2. It throws an exception when the list is empty.",
    ),
    (
        "bug_report",
        "Wrong total",
        "The report shows the wrong output: totals are doubled instead of summed. Reproducible every time with the "
        "attached minimal example.",
    ),
    ("feature_request", "Support for SAML", "It would be nice to add support for SAML login. Our company requires it."),
    (
        "feature_request",
        "Dark theme",
        "Please consider adding an option for a dark theme; nice to have for people working at night.",
    ),
    (
        "feature_request",
        "Webhooks",
        "Would it be possible to add webhooks so that we can be notified? Users should be able to configure them.",
    ),
    (
        "general",
        "Question about API",
        "Is there a way to fetch all invoices for a customer through the API? What is the best way to paginate?",
    ),
    ("general", "Usage", "I want to know how to invite a colleague to my workspace."),
]


@pytest.mark.parametrize(("expected", "subject", "body"), REPORTS, ids=[r[1] for r in REPORTS])
def test_tracker_style_reports_reach_their_category(expected, subject, body):
    assert keywords.classify(rules.current_rules(), subject, body).category == expected


def test_an_admins_own_terms_are_kept_and_nothing_is_added_twice():
    from django.apps import apps

    from classification.models import Category

    migration = __import__("classification.migrations.0009_issue_tracker_and_howto_terms", fromlist=["add_terms"])
    general = Category.objects.get(slug="general")
    general.keywords = [{"term": "my own term", "weight": 3.0}, {"term": "usage", "weight": 2.0}]
    general.save()
    migration.add_terms(apps, None)
    migration.add_terms(apps, None)
    general.refresh_from_db()
    terms = [entry["term"] for entry in general.keywords]
    assert terms[:2] == ["my own term", "usage"] and general.keywords[1]["weight"] == 2.0
    assert len(terms) == len(set(terms)) and "is there a way" in terms
