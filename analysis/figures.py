"""The map step's figures for one chunk of tickets, and how partial figures combine (the reduce).

A chunk's figures are plain JSON (counts by dimension, risk sums, the chunk's riskiest tickets, the LLM's
calls and cost), so they can be stored in the chunk's row and summed in any order."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from classification.models import Classification
from classification.taxonomy import category_choices, team_choices
from tickets import stats
from tickets.models import Channel, Priority, Sentiment, Source, Ticket

# The dimensions a run counts tickets by: (name in the figures, Ticket field).
DIMENSIONS = (
    ("category", "category"),
    ("priority", "priority"),
    ("sentiment", "sentiment"),
    ("team", "team"),
    ("channel", "channel"),
    ("source", "classification_source"),
)
# Each chunk keeps its this-many riskiest tickets; the reduce keeps the same number over all chunks.
TOP_RISK = 10


def empty() -> dict[str, Any]:
    return {
        "count": 0,
        "by": {name: {} for name, _ in DIMENSIONS},
        "high_risk": 0,
        "risk_sum": 0.0,
        "risk_n": 0,
        "top_risk": [],
        "llm": {"calls": 0, "tokens": 0, "cost_usd": "0"},
    }


def for_tickets(tickets: QuerySet[Ticket]) -> dict[str, Any]:
    """The figures of these tickets: one grouped scan, one aggregate, the riskiest few, and the LLM's calls
    on them (every LLM classification stored for these tickets, reclassifications included)."""
    figures = empty()
    fields = [field for _, field in DIMENSIONS]
    for *values, n in tickets.order_by().values_list(*fields).annotate(n=Count("pk")):
        figures["count"] += n
        for (name, _), value in zip(DIMENSIONS, values, strict=True):
            key = value or ""
            figures["by"][name][key] = figures["by"][name].get(key, 0) + n
    risk = tickets.order_by().aggregate(
        high=Count("pk", filter=Q(risk__gte=stats.HIGH_RISK)), total=Sum("risk"), n=Count("risk")
    )
    figures.update(high_risk=risk["high"], risk_sum=float(risk["total"] or 0.0), risk_n=risk["n"])
    riskiest = tickets.filter(risk__isnull=False).order_by("-risk", "id").values_list("pk", "risk")[:TOP_RISK]
    figures["top_risk"] = [[pk, round(value or 0.0, 3)] for pk, value in riskiest]
    llm = Classification.objects.filter(source=Source.LLM, ticket__in=tickets.order_by().values("pk")).aggregate(
        calls=Count("pk"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), cost=Sum("cost_usd")
    )
    figures["llm"] = {
        "calls": llm["calls"],
        "tokens": (llm["prompt"] or 0) + (llm["completion"] or 0),
        "cost_usd": str(llm["cost"] or Decimal("0")),
    }
    return figures


def combine(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The run's figures from its chunks' (in any order)."""
    total = empty()
    cost = Decimal("0")
    risky: list[list[Any]] = []
    for part in parts:
        total["count"] += part["count"]
        for name, counts in part["by"].items():
            into = total["by"].setdefault(name, {})
            for key, n in counts.items():
                into[key] = into.get(key, 0) + n
        total["high_risk"] += part["high_risk"]
        total["risk_sum"] += part["risk_sum"]
        total["risk_n"] += part["risk_n"]
        risky.extend(part["top_risk"])
        total["llm"]["calls"] += part["llm"]["calls"]
        total["llm"]["tokens"] += part["llm"]["tokens"]
        cost += Decimal(part["llm"]["cost_usd"])
    total["top_risk"] = sorted(risky, key=lambda pair: (-pair[1], pair[0]))[:TOP_RISK]
    total["llm"]["cost_usd"] = str(cost)
    return total


def _names() -> dict[str, dict[str, str]]:
    """What each value is called on screen (a category's name, not its slug)."""
    return {
        "category": dict(category_choices()),
        "team": dict(team_choices()),
        "priority": dict(Priority.choices),
        "sentiment": dict(Sentiment.choices),
        "channel": dict(Channel.choices),
        "source": dict(Source.choices),
    }


def shares(figures: dict[str, Any]) -> dict[str, Any]:
    """What people read from the combined figures: sorted counts with shares and names, average risk, the
    LLM's share."""
    count = figures["count"]
    names = _names()
    by = {
        name: [
            {
                "key": key,
                "label": names.get(name, {}).get(key, key) if key else "(none)",
                "count": n,
                "share": round(100 * n / count, 1) if count else 0.0,
            }
            for key, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        for name, counts in figures["by"].items()
    }
    sources = figures["by"].get("source", {})
    automatic = sources.get(Source.LLM, 0) + sources.get(Source.KEYWORD, 0)
    return {
        "count": count,
        "by": by,
        "high_risk": figures["high_risk"],
        "average_risk": round(figures["risk_sum"] / figures["risk_n"], 3) if figures["risk_n"] else None,
        "llm_share": round(100 * sources.get(Source.LLM, 0) / automatic, 1) if automatic else None,
        "llm": figures["llm"],
    }
