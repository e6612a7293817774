"""Installs the default taxonomy: SaaS and e-commerce support categories with weighted keywords.

The keywords are written from what customers of a SaaS product or an online shop write about, not
learned from any evaluation file. `manage.py suggest_keywords` adapts them to a deployment's own tickets.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _kw(*terms: str, weight: float = 1.0) -> list[dict[str, Any]]:
    return [{"term": term, "weight": weight} for term in terms]


DEFAULT_CATEGORIES: list[dict[str, Any]] = [
    {
        "slug": "technical",
        "name": "Technical issue",
        "team": "tech-support",
        "description": "Something in the product or service does not work: outages, errors, crashes, slowness, "
        "connection, sync, integration or app problems, a feature or device that fails to work.",
        "keywords": _kw(
            "not working",
            "doesn't work",
            "does not work",
            "isn't working",
            "stopped working",
            "won't work",
            "outage",
            "down",
            "is down",
            "error",
            "error message",
            "error code",
            "crash",
            "freezes",
            "frozen",
            "timeout",
            "timed out",
            "slow",
            "won't load",
            "not loading",
            "can't connect",
            "cannot connect",
            "connection",
            "server",
            "api",
            "integration",
            "sync",
            "webhook",
            "ssl",
            "certificate",
            "dns",
            "app",
            "mobile app",
            "install",
            "browser",
            "unresponsive",
            "blank page",
            "500",
            "503",
            "contactless",
            "reader",
            "device",
            "offline",
            "failed to load",
            "keeps failing",
            "glitch",
            "not responding",
            "not accepted",
            "rejected",
            "swallowed",
            "stuck",
            "won't let me",
            weight=1.0,
        )
        + _kw("outage", "crash", "not working", "doesn't work", "stopped working", weight=1.0),
        "reply_template": "Hi {customer_name},\n\nThanks for reporting this, and sorry for the trouble. "
        "Our {team} team is looking into {error_code} now. If you can, reply with the time it happened, "
        "your browser or app version and a screenshot; that helps us reproduce it quickly.\n\nBest regards,\nSupport",
    },
    {
        "slug": "billing",
        "name": "Billing and payments",
        "team": "billing",
        "description": "Money: invoices, charges, payments, refunds, subscriptions and plans, fees, "
        "declined or pending payments, transfers, wrong or duplicate amounts.",
        "keywords": _kw(
            "bill",
            "billing",
            "invoice",
            "receipt",
            "charge",
            "charged",
            "overcharged",
            "charged twice",
            "double charged",
            "payment",
            "pay",
            "paid",
            "refund",
            "reimbursement",
            "money",
            "price",
            "pricing",
            "cost",
            "fee",
            "subscription",
            "plan",
            "renewal",
            "renew",
            "credit card",
            "debit card",
            "transaction",
            "discount",
            "coupon",
            "promo code",
            "tax",
            "vat",
            "payment method",
            "checkout",
            "purchase",
            "amount",
            "balance",
            "credit",
            "debit",
            "direct debit",
            "transfer",
            "bank transfer",
            "withdrawal",
            "withdraw",
            "cash",
            "currency",
            "exchange rate",
            "wallet",
            "top up",
            "top-up",
            "pending",
            "declined",
            "dispute",
            "chargeback",
            "statement",
            "paypal",
            "apple pay",
            "google pay",
            "upgrade",
            "downgrade",
            "trial",
            "money back",
            "deposit",
            "payout",
            "billed",
        )
        + _kw("refund", "charged", "invoice", "payment", "charged twice", weight=1.0)
        + _kw("card", weight=0.5),
        "reply_template": "Hi {customer_name},\n\nThanks for getting in touch about {amount}. Our {team} team "
        "is checking the payment records for {order_id} and will confirm the next step, including any refund "
        "due, within one business day.\n\nBest regards,\nSupport",
    },
    {
        "slug": "account",
        "name": "Account and login",
        "team": "accounts",
        "description": "Access and identity: logging in, passwords, PINs, two-factor codes, locked or "
        "compromised accounts, verification, personal details, closing or reopening an account, "
        "lost or stolen cards and devices tied to the account.",
        "keywords": _kw(
            "login",
            "log in",
            "logging in",
            "sign in",
            "signin",
            "sign up",
            "password",
            "reset password",
            "forgot password",
            "forgot my password",
            "username",
            "account",
            "my account",
            "locked out",
            "locked",
            "two-factor",
            "2fa",
            "verification code",
            "one-time code",
            "otp",
            "authenticator",
            "verify",
            "verification",
            "identity",
            "id",
            "passport",
            "profile",
            "personal details",
            "email address",
            "change my email",
            "phone number",
            "address",
            "name change",
            "close my account",
            "delete my account",
            "deactivate",
            "reactivate",
            "suspended",
            "hacked",
            "compromised",
            "unauthorized access",
            "someone accessed",
            "pin",
            "passcode",
            "security code",
            "lost my phone",
            "stolen phone",
            "new phone",
            "lost card",
            "stolen card",
            "card was stolen",
            "lost my card",
            "freeze",
            "block my card",
            "expire",
            "expired",
            "expiring",
            "replacement card",
            "new card",
            "activate",
            "permissions",
            "invite",
            "sso",
            "access",
        )
        + _kw("password", "log in", "login", "locked out", "verify", "identity", "pin", "hacked", weight=1.0),
        "reply_template": "Hi {customer_name},\n\nThanks for reaching out. For your security our {team} team "
        "will verify the account linked to {email} before making any change; you'll get a message from us "
        "shortly. If you think someone else has access, reset your password now.\n\nBest regards,\nSupport",
    },
    {
        "slug": "feature_request",
        "name": "Feature request",
        "team": "product",
        "description": "A suggestion or request for something the product does not do yet.",
        "keywords": _kw(
            "feature request",
            "feature",
            "would be nice",
            "would love",
            "it would be great",
            "could you add",
            "please add",
            "add support",
            "suggestion",
            "suggest",
            "wish",
            "roadmap",
            "any plans",
            "enhancement",
            "integrate with",
            "option to",
            "ability to",
            "dark mode",
            "would be helpful",
            "request a feature",
            "improvement",
            "idea",
        )
        + _kw("feature request", "would be nice", "could you add", "please add", weight=1.5),
        "reply_template": "Hi {customer_name},\n\nThank you for the suggestion! We've shared it with our "
        "{team} team, who review requests like this when planning the roadmap.\n\nBest regards,\nSupport",
    },
    {
        "slug": "bug_report",
        "name": "Bug report",
        "team": "engineering",
        "description": "The product behaves wrongly in a reproducible way: wrong results or display, data "
        "not saved, a regression after an update.",
        "keywords": _kw(
            "bug",
            "bug report",
            "steps to reproduce",
            "reproduce",
            "unexpected",
            "wrong result",
            "incorrect",
            "shows wrong",
            "displays wrong",
            "typo",
            "regression",
            "since the update",
            "after the update",
            "after updating",
            "expected",
            "actual result",
            "broken link",
            "doesn't save",
            "not saving",
            "not saved",
            "duplicate",
            "missing button",
            "layout",
            "misaligned",
            "inconsistent",
            "glitchy",
        )
        + _kw("bug", "steps to reproduce", "regression", weight=1.5),
        "reply_template": "Hi {customer_name},\n\nThanks for the detailed report. Our {team} team has logged "
        "it and is working to reproduce {error_code}. We'll update you as soon as a fix is scheduled.\n\n"
        "Best regards,\nSupport",
    },
    {
        "slug": "general",
        "name": "General question",
        "team": "frontline",
        "description": "Questions about the product, service, policies, availability, delivery, limits and "
        "how to do something; anything that fits no other category.",
        "keywords": _kw(
            "how do i",
            "how can i",
            "how to",
            "how long",
            "how much",
            "where can i",
            "what is",
            "what are",
            "do you",
            "can i",
            "is it possible",
            "question",
            "information",
            "info",
            "hours",
            "contact",
            "delivery",
            "shipping",
            "ship",
            "arrive",
            "arrival",
            "track",
            "tracking",
            "when will",
            "countries",
            "country",
            "support",
            "documentation",
            "policy",
            "terms",
            "age",
            "limit",
            "limits",
            "supported",
            "accept",
            "which",
            "available",
            "availability",
            "wondering",
        ),
        "reply_template": "Hi {customer_name},\n\nThanks for your question. Our {team} team will answer shortly; "
        "in the meantime our help centre covers most common questions.\n\nBest regards,\nSupport",
    },
]


def _dedupe(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A term listed twice above is a strong term: weights add up into one entry.
    merged: dict[str, float] = {}
    for entry in entries:
        merged[entry["term"]] = merged.get(entry["term"], 0.0) + entry["weight"]
    return [{"term": term, "weight": weight} for term, weight in merged.items()]


def install_defaults(apps: Any, schema_editor: Any) -> None:
    Category = apps.get_model("classification", "Category")
    for position, spec in enumerate(DEFAULT_CATEGORIES):
        Category.objects.update_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "team": spec["team"],
                "description": spec["description"],
                "keywords": _dedupe(spec["keywords"]),
                "reply_template": spec["reply_template"],
                "position": position,
                "active": True,
            },
        )


def remove_defaults(apps: Any, schema_editor: Any) -> None:
    Category = apps.get_model("classification", "Category")
    Category.objects.filter(slug__in=[spec["slug"] for spec in DEFAULT_CATEGORIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("classification", "0001_initial")]

    operations = [migrations.RunPython(install_defaults, remove_defaults)]
