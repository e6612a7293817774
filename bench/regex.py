"""Hostile text: the PII mask (before each LLM call) and the keyword classifier's entity patterns (on
every ticket) against bodies built to make a backtracking regex engine rescan the text.

"before" runs the patterns these replaced, kept here only to be measured; "after" runs the product's
code. A body up to 20,000 characters is accepted by the API; the mask is measured at 100,000 (five
times that) to show it stays linear, the entity patterns at the classifier's analysed length.
"""

from __future__ import annotations

import functools
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

REPEATS = 5
MASK_CHARS = 100_000
# The quadratic "before" mask takes seconds at these sizes: measured fewer times.
BEFORE_MASK_SIZES = {20_000: 3, 100_000: 1}

# --- before: the patterns as they were ---------------------------------------------------------
_BEFORE_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BEFORE_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_BEFORE_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{2,4}(?!\w|\.\d)"
)
_BEFORE_ORDER = re.compile(
    r"(?:\border(?:\s+(?:id|number|no\.?|ref))?\s*[:#]?\s*|#)([A-Z0-9][A-Z0-9-]{3,24})\b|\b(ORD-?\d{3,})\b",
    re.IGNORECASE,
)
_BEFORE_AMOUNT = re.compile(
    r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|CAD|AUD|dollars?|euros?|pounds?)\b|"
    r"\b(?:USD|EUR|GBP|CAD|AUD)\s?\d[\d,]*(?:\.\d{1,2})?)",
    re.IGNORECASE,
)
_BEFORE_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _before_luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _before_mask(text: str) -> str:
    text = _BEFORE_EMAIL.sub("[EMAIL]", text)
    text = _BEFORE_CARD.sub(lambda m: "[CARD]" if _before_luhn(re.sub(r"\D", "", m.group(0))) else m.group(0), text)
    return _BEFORE_PHONE.sub(lambda m: "[PHONE]" if sum(c.isdigit() for c in m.group(0)) >= 8 else m.group(0), text)


# --- hostile bodies ------------------------------------------------------------------------------


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


# Runs without a single email, card or phone number: the old email pattern rescanned the rest of the
# run from each of its characters.
MASK_RUNS = {"letters": "a", "digits": "1", "dotted": "a.", "local-part characters": "a_b%c+d-"}
# Dense candidates: linear, but every few characters is an email, card or phone number to check.
MASK_DENSE = {
    "emails": "a@b.cc ",
    "at signs": "a@",
    "card-shaped digits": "1-",
    "phone-shaped digits": "12 345 ",
}


def _median_ms(run: Callable[[], Any], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def _masking(mask: Callable[[str], str], unit: str, length: int) -> Callable[[], Any]:
    text = _repeat(unit, length)
    return lambda: mask(text)


def _mask_figures() -> dict[str, Any]:
    from classification.keywords import mask_pii

    after = {name: _median_ms(_masking(mask_pii, unit, MASK_CHARS)) for name, unit in MASK_RUNS.items()}
    dense = {name: _median_ms(_masking(mask_pii, unit, MASK_CHARS)) for name, unit in MASK_DENSE.items()}
    before = {
        f"letters, {size:,} chars ({repeats} runs)": _median_ms(_masking(_before_mask, "a", size), repeats)
        for size, repeats in BEFORE_MASK_SIZES.items()
    }
    return {
        "chars": MASK_CHARS,
        "after_median_ms": after,
        "after_dense_candidates_median_ms": dense,
        "before_median_ms": before,
        "target_ms": 20,
        "worst_run_ms": max(after.values()),
    }


def _entity_figures() -> dict[str, Any]:
    from classification import keywords

    size = keywords.MAX_ANALYSED_CHARS
    cases: dict[str, tuple[str, Callable[[str], Any], Callable[[str], Any]]] = {
        "email: dotted run after an @": (
            "x@" + _repeat("a.", size),
            _BEFORE_EMAIL.findall,
            lambda text: list(keywords.email_spans(text)),
        ),
        "order id: 'order' then spaces": (
            "order" + " " * size + "!",
            _BEFORE_ORDER.findall,
            keywords.entities._ORDER.findall,
        ),
        "amount: '1,1,1,…' then a currency": (
            _repeat("1,", size) + "! usd",
            _BEFORE_AMOUNT.findall,
            keywords.entities._AMOUNT.findall,
        ),
        "script tags never closed": (
            _repeat("<script>", size),
            lambda text: _BEFORE_SCRIPT_OR_STYLE.sub(" ", text),
            keywords.text._drop_scripts_and_styles,
        ),
    }
    figures: dict[str, Any] = {"chars": size}
    for name, (text, before, after) in cases.items():
        figures[name] = {
            "before_median_ms": _median_ms(functools.partial(before, text)),
            "after_median_ms": _median_ms(functools.partial(after, text)),
        }
    return figures


def regex_figures() -> dict[str, Any]:
    return {"mask_pii": _mask_figures(), "entity_patterns": _entity_figures()}
