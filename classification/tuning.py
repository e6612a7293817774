"""Learning keyword weights from labeled tickets (human corrections or a labeled export).

The result stays a taxonomy of weighted words and phrases that a person can read and edit in admin:
candidate terms are the words and two-word phrases that labeled tickets use, and their weights are
learned with an averaged perceptron over exactly the scoring rule the keyword classifier applies
(sum of the weights of the matched terms, highest category wins, no positive score → default).
"""

from __future__ import annotations

import copy
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from classification import keywords
from classification.evaluation import LabeledTicket, score

# Candidate terms must appear in at least this many labeled tickets, so one odd ticket adds nothing.
MIN_SUPPORT = 3
# At most this many candidate terms are considered per category (the most category-specific first).
CANDIDATES_PER_CATEGORY = 400
EPOCHS = 12
LEARNING_RATE = 0.1
# A learned term whose weight ends up smaller than this is left out: it changes almost nothing.
MIN_ABS_WEIGHT = 0.05
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "and",
        "or",
        "but",
        "if",
        "so",
        "as",
        "not",
        "no",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "there",
        "their",
        "they",
        "them",
        "what",
        "which",
        "who",
        "when",
        "where",
        "how",
        "why",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
    ]
)


@dataclass
class Suggestion:
    taxonomy: list[dict[str, Any]]
    added: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    changed: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    skipped_labels: list[str] = field(default_factory=list)
    n_train: int = 0
    n_holdout: int = 0


def split_holdout(rows: Sequence[LabeledTicket], fraction: float) -> tuple[list[LabeledTicket], list[LabeledTicket]]:
    """Deterministic split: every k-th row is held back for the before/after figures."""
    if fraction <= 0:
        return list(rows), []
    step = max(2, round(1 / fraction))
    held = [row for index, row in enumerate(rows) if index % step == 0]
    train = [row for index, row in enumerate(rows) if index % step != 0]
    return train, held


def _candidates(rows: Sequence[LabeledTicket], slugs: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs that are frequent and specific to one category, in readable form."""
    per_class: dict[str, Counter[tuple[str, ...]]] = {slug: Counter() for slug in slugs}
    surfaces: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    totals: Counter[tuple[str, ...]] = Counter()
    for row in rows:
        tokens = keywords.surface_tokens(f"{row.subject}\n{row.body}")
        stems = [keywords.stem(token) for token in tokens]
        seen: set[tuple[str, ...]] = set()
        for i, current in enumerate(stems):
            if tokens[i] not in _STOPWORDS:
                seen.add((current,))
                surfaces[(current,)][tokens[i]] += 1
            if i + 1 < len(stems) and not (tokens[i] in _STOPWORDS and tokens[i + 1] in _STOPWORDS):
                key: tuple[str, ...] = (current, stems[i + 1])
                seen.add(key)
                surfaces[key][f"{tokens[i]} {tokens[i + 1]}"] += 1
        for key in sorted(seen):  # sorted: set order follows string hashing, which differs per process
            per_class[row.label][key] += 1
            totals[key] += 1
    chosen: dict[tuple[str, ...], None] = {}
    for slug in slugs:
        ranked = sorted(
            (key for key, count in per_class[slug].items() if count >= MIN_SUPPORT),
            key=lambda key: (-(per_class[slug][key] / totals[key]) * per_class[slug][key] ** 0.5, key),
        )
        for key in ranked[:CANDIDATES_PER_CATEGORY]:
            chosen[key] = None
    # The most frequent spelling of each stem, alphabetical among equals.
    return [min(surfaces[key].items(), key=lambda item: (-item[1], item[0]))[0] for key in chosen]


def _predict(weights: list[dict[int, float]], features: dict[int, float], default: int) -> tuple[int, bool]:
    """The category the classifier would pick, and whether it won on score (not as the default)."""
    best, best_score = default, 0.0
    for index, category_weights in enumerate(weights):
        total = sum(category_weights.get(term, 0.0) * factor for term, factor in features.items())
        if total > best_score:
            best, best_score = index, total
    return best, best_score > 0


def _train(
    examples: list[tuple[dict[int, float], int]], initial: list[dict[int, float]], default: int, seed: int
) -> list[dict[int, float]]:
    """Averaged perceptron starting from the current weights (lazy averaging: w - u / steps)."""
    weights = [dict(w) for w in initial]
    updates: list[dict[int, float]] = [defaultdict(float) for _ in initial]
    rng = random.Random(seed)
    order = list(range(len(examples)))
    step = 1
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for position in order:
            features, label = examples[position]
            guess, won = _predict(weights, features, default)
            if guess != label:
                for term, factor in features.items():
                    delta = LEARNING_RATE * factor
                    weights[label][term] = weights[label].get(term, 0.0) + delta
                    updates[label][term] += step * delta
                    if won:
                        weights[guess][term] = weights[guess].get(term, 0.0) - delta
                        updates[guess][term] -= step * delta
            step += 1
    return [
        {term: value - updates[index].get(term, 0.0) / step for term, value in category_weights.items()}
        for index, category_weights in enumerate(weights)
    ]


def _accuracy_figures(taxonomy: list[dict[str, Any]], rows: Sequence[LabeledTicket]) -> dict[str, Any]:
    if not rows:
        return {}
    from classification.rules import rules_from_taxonomy

    rule_set = rules_from_taxonomy(taxonomy)
    predictions = [keywords.classify(rule_set, row.subject, row.body).category for row in rows]
    report = score([row.label for row in rows], predictions)
    return {"n": report["n"], "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _apply_weights(
    taxonomy: list[dict[str, Any]], terms: list[str], learned: list[dict[int, float]], suggestion: Suggestion
) -> list[dict[str, Any]]:
    tuned = copy.deepcopy(taxonomy)
    active = [category for category in tuned if category.get("active", True)]
    for category, weights in zip(active, learned, strict=True):
        old = {entry["term"]: float(entry.get("weight", 1.0)) for entry in category.get("keywords", [])}
        new: dict[str, float] = {}
        for index, value in sorted(weights.items()):
            if abs(value) >= MIN_ABS_WEIGHT:
                new[terms[index]] = round(value, 2)
        slug = category["slug"]
        suggestion.added[slug] = sorted(((t, w) for t, w in new.items() if t not in old), key=lambda x: (-x[1], x[0]))
        suggestion.changed[slug] = [(t, old[t], w) for t, w in new.items() if t in old and abs(old[t] - w) >= 0.05]
        suggestion.removed[slug] = [t for t in old if t not in new]
        category["keywords"] = [{"term": t, "weight": w} for t, w in sorted(new.items(), key=lambda x: (-x[1], x[0]))]
    return tuned


def suggest(
    taxonomy: list[dict[str, Any]], rows: Sequence[LabeledTicket], *, holdout: float = 0.2, seed: int = 0
) -> Suggestion:
    """Propose keyword additions and weight changes for the taxonomy from labeled tickets, with the
    accuracy before and after on the held-back rows. Changes nothing by itself."""
    active = [category for category in taxonomy if category.get("active", True)]
    slugs = [category["slug"] for category in active]
    usable = [row for row in rows if row.label in slugs]
    skipped = sorted({row.label for row in rows} - set(slugs))
    train, held = split_holdout(usable, holdout)
    existing = [entry["term"] for category in active for entry in category.get("keywords", [])]
    terms = list(dict.fromkeys(existing + _candidates(train, slugs)))
    index_of = {term: i for i, term in enumerate(terms)}
    initial = [
        {index_of[e["term"]]: float(e.get("weight", 1.0)) for e in category.get("keywords", [])} for category in active
    ]
    matcher = keywords.TermMatcher(terms)
    examples = [(matcher.features(row.subject, row.body), slugs.index(row.label)) for row in train]
    default = slugs.index("general") if "general" in slugs else len(slugs) - 1
    learned = _train(examples, initial, default, seed)
    suggestion = Suggestion(taxonomy=[], skipped_labels=skipped, n_train=len(train), n_holdout=len(held))
    suggestion.taxonomy = _apply_weights(taxonomy, terms, learned, suggestion)
    suggestion.before = _accuracy_figures(taxonomy, held)
    suggestion.after = _accuracy_figures(suggestion.taxonomy, held)
    return suggestion
