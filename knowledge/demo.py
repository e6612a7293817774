"""The demo knowledge base: short Markdown articles shipped in knowledge/demo_articles/, loaded by `manage.py seed`."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge import services
from knowledge.models import Article

logger = logging.getLogger(__name__)

DIRECTORY = Path(__file__).resolve().parent / "demo_articles"
# The category of each article, from the default taxonomy.
CATEGORIES = {
    "refunds.md": "billing",
    "invoices-and-billing.md": "billing",
    "changing-plan.md": "billing",
    "payment-methods.md": "billing",
    "cancelling-subscription.md": "billing",
    "taxes-and-vat.md": "billing",
    "payouts.md": "billing",
    "disputes-and-chargebacks.md": "billing",
    "login-and-2fa.md": "account",
    "deleting-an-account.md": "account",
    "team-members.md": "account",
    "changing-email.md": "account",
    "single-sign-on.md": "account",
    "account-security.md": "account",
    "outages.md": "technical",
    "exporting-data.md": "technical",
    "api-limits.md": "technical",
    "webhooks.md": "technical",
    "integrations.md": "technical",
    "mobile-app.md": "technical",
    "importing-data.md": "technical",
    "email-notifications.md": "technical",
    "performance-and-browsers.md": "technical",
    "feature-requests.md": "feature_request",
    "reporting-bugs.md": "bug_report",
    "data-privacy.md": "general",
    "contacting-support.md": "general",
}


def load() -> int:
    """Import the demo articles not there yet (an article edited since keeps its edits); how many were added."""
    added = 0
    for path in sorted(DIRECTORY.glob("*.md")):
        name = f"demo/{path.name}"
        if Article.objects.filter(source_name=name).exists():
            continue
        services.import_file(name, path.read_bytes(), category=CATEGORIES.get(path.name, ""), tags=["demo"])
        added += 1
    logger.info("demo knowledge base: %s articles added", added)
    return added
