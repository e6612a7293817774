"""Demo tickets that read like real support mail: `manage.py seed` fills the dashboard with them, and the
test factories use them too. Plain `random.Random`, so a seed makes the demo reproducible."""

from __future__ import annotations

import random
from typing import Any

from tickets.models import Channel

# How often each category appears among demo tickets, roughly as in a SaaS/e-commerce inbox.
MIX = {"technical": 25, "billing": 25, "account": 20, "general": 15, "bug_report": 10, "feature_request": 5}

_FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quentin",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Zoe",
]
_LAST_NAMES = [
    "Okafor",
    "Schmidt",
    "Tanaka",
    "Garcia",
    "Novak",
    "Haddad",
    "Smith",
    "Rossi",
    "Larsen",
    "Kowalski",
    "Nguyen",
    "Dubois",
    "Moreau",
    "Silva",
    "Jensen",
    "Patel",
    "Brown",
    "Ivanova",
    "Costa",
    "Murphy",
]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "shop.example"]
_CITIES = ["Toronto", "Lyon", "Osaka", "Austin", "Leeds", "Porto", "Gdansk", "Nairobi", "Melbourne", "Valencia"]

_PRODUCTS = [
    "Dashboard",
    "Reports",
    "Mobile app",
    "Checkout",
    "Invoices page",
    "Team workspace",
    "CSV export",
    "Calendar sync",
    "Slack integration",
    "Analytics",
    "Storefront",
    "Search",
]
_FEATURES = [
    "dark mode",
    "an export to Excel",
    "SSO with Okta",
    "a Zapier integration",
    "bulk editing",
    "custom fields on orders",
    "two-factor login with a hardware key",
    "scheduled reports",
    "a public API for invoices",
    "multi-currency pricing",
    "saved filters",
    "keyboard shortcuts",
]
_ERRORS = ["E4012", "ERR_CONNECTION_RESET", "HTTP 500", "error 503", "E1107", "0x80070005", "ERR_TIMEOUT"]
_BROWSERS = ["Chrome 131", "Firefox 133", "Safari 18", "Edge 131", "the iOS app", "the Android app"]

# Per category: (subject templates, body templates). Slots are filled from the helpers above.
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "technical": (
        [
            "{product} is not loading",
            "Getting {error} when I open {product}",
            "App keeps crashing",
            "{product} down for our whole team?",
            "Sync stopped working",
            "Timeout errors since this morning",
        ],
        [
            "Since about {time} {product} shows a blank page and then {error}. I tried {browser} and cleared the "
            "cache, same result.",
            "The {product} crashes every time I try to open it on {browser}. It was fine yesterday. "
            "Error code: {error}.",
            "Our whole team can't connect to {product}; requests time out after 30 seconds. Is there an outage?",
            "{product} is extremely slow and then fails with {error}. We depend on it for daily work, please check.",
            "The sync between {product} and our calendar stopped working. No error message, it just never finishes.",
        ],
    ),
    "billing": (
        [
            "Charged twice for order {order}",
            "Refund for order {order}",
            "Wrong amount on my invoice",
            "Question about my subscription renewal",
            "Payment declined at checkout",
            "Overcharged this month",
        ],
        [
            "I was charged {amount} twice for order {order}. Please refund the duplicate charge to my card.",
            "I cancelled order {order} last week but the refund of {amount} still hasn't shown up on my statement.",
            "My invoice for this month says {amount}, but my plan should cost less. Can you check the billing?",
            "My subscription renewed automatically and I was billed {amount}. I meant to downgrade before renewal.",
            "My card keeps getting declined at checkout for {amount} even though the bank says everything is fine.",
            "There's a fee of {amount} on my statement that I don't recognise. What is this charge for?",
        ],
    ),
    "account": (
        [
            "Can't log in to my account",
            "Password reset email never arrives",
            "Locked out after 2FA change",
            "Please change the email on my account",
            "Someone accessed my account",
            "Close my account",
        ],
        [
            "I can't log in: it says my password is wrong, and the reset email never arrives at {email}.",
            "I got a new phone and lost access to my authenticator, so the two-factor code fails. I'm locked out.",
            "Please update the email address on my account from {email} to a new one; I no longer use the old one.",
            "I got a login alert from a country I've never been to. I think my account was hacked. Please help!",
            "I'd like to close my account and delete my personal details. How do I do that?",
            "My account was suspended after verification and I don't know why. I uploaded my ID twice.",
        ],
    ),
    "feature_request": (
        [
            "Feature request: {feature}",
            "Could you add {feature}?",
            "Suggestion for {product}",
            "Any plans for {feature}?",
        ],
        [
            "It would be great if {product} supported {feature}. Our team would use it every day.",
            "Feature request: please add {feature}. Right now we work around it by hand and it takes hours.",
            "Just a suggestion: {feature} would be nice in {product}. Is it on the roadmap?",
            "We love {product}! Any plans to add {feature}? That's the one thing we're missing.",
        ],
    ),
    "bug_report": (
        [
            "Bug: totals wrong in {product}",
            "{product} doesn't save changes",
            "Regression after the update",
            "Broken layout on {browser}",
        ],
        [
            "Steps to reproduce: open {product}, add two items, refresh. Expected: the total updates. Actual: it shows "
            "the old total. Happens on {browser}.",
            "Since the update, {product} doesn't save my changes; after a reload the old values are back.",
            "Bug report: the date column in {product} shows the wrong time zone for every row.",
            "On {browser} the buttons in {product} overlap and the save button is missing. Looks like a layout bug.",
        ],
    ),
    "general": (
        [
            "Question about delivery times",
            "How do I export my data?",
            "Do you ship to Canada?",
            "Opening hours",
            "Where can I find the documentation?",
            "Question about limits",
        ],
        [
            "How long does delivery usually take to {city}? I'd like to plan ahead.",
            "How do I export my data from {product}? I couldn't find it in the settings.",
            "Do you ship internationally, and which countries are supported?",
            "What are your support hours? I'd like to call rather than email.",
            "Is there a limit on how many users we can add to {product} on the basic plan?",
            "Where can I find documentation for {product}? Thanks!",
        ],
    ),
}
_OPENERS = ["", "Hi,\n", "Hello team,\n", "Hi there,\n", "Good morning,\n"]
_CLOSERS = [
    "",
    "\nThanks!",
    "\nThanks in advance.",
    "\nRegards,\n{name}",
    "\nThis is really frustrating.",
    "\nThis is urgent, please help ASAP!",
    "\nAppreciate your help, you're great.",
]


def _email(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES).lower()}.{rng.choice(_LAST_NAMES).lower()}@{rng.choice(_DOMAINS)}"


def _slots(rng: random.Random) -> dict[str, str]:
    return {
        "product": rng.choice(_PRODUCTS),
        "feature": rng.choice(_FEATURES),
        "error": rng.choice(_ERRORS),
        "browser": rng.choice(_BROWSERS),
        "order": f"#{rng.randint(10000, 99999)}",
        "amount": f"${rng.randint(5, 900)}.{rng.randint(0, 99):02d}",
        "email": _email(rng),
        "time": f"{rng.randint(1, 12)} {rng.choice(['am', 'pm'])}",
        "city": rng.choice(_CITIES),
        "name": rng.choice(_FIRST_NAMES),
    }


def demo_text(category: str, rng: random.Random) -> tuple[str, str]:
    """A (subject, body) pair that reads like a real ticket of the given category."""
    subjects, bodies = TEMPLATES[category]
    slots = _slots(rng)
    body = rng.choice(_OPENERS) + rng.choice(bodies) + rng.choice(_CLOSERS)
    return rng.choice(subjects).format(**slots), body.format(**slots)


def demo_ticket(category: str, rng: random.Random) -> dict[str, Any]:
    """The input fields of one demo ticket of the given category (as a client would send them)."""
    subject, body = demo_text(category, rng)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return {
        "subject": subject,
        "body": body,
        "channel": rng.choice([c.value for c in Channel]),
        "customer_name": f"{first} {last}",
        "customer_email": f"{first.lower()}.{last.lower()}@{rng.choice(_DOMAINS)}",
    }
