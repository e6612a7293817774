"""Labeled tickets for the learned classifier's tests: each category speaks its own made-up product words,
which no keyword rule knows, so the rules file them all under `general` and a model has to learn them."""

from __future__ import annotations

import random

WORDS = {
    "billing": ["zorblax", "quillet", "marnix", "flentor", "pabble"],
    "account": ["vexadrin", "trundlewick", "pollocine", "grimsby", "oxwold"],
    "technical": ["sprocketron", "hexaflume", "drubbin", "kelvane", "torvik"],
    "feature_request": ["lumindel", "brasquet", "ombrel", "cravitz", "yellowfin"],
}
FILLER = ["about", "the", "our", "again", "since", "monday", "team", "today", "still", "with"]


def text(category: str, rng: random.Random) -> tuple[str, str]:
    words = WORDS[category]
    subject = f"{rng.choice(words)} {rng.choice(FILLER)}"
    body = " ".join(rng.choice(words + FILLER) for _ in range(12))
    return subject, body


def labeled(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(subject, body, category) rows, the categories in turn."""
    rng = random.Random(seed)
    categories = list(WORDS)
    return [(*text(categories[i % len(categories)], rng), categories[i % len(categories)]) for i in range(n)]
