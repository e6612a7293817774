"""The run's executive summary (from the LLM, or from a template) and its downloads (Markdown, CSV).

The LLM sees the run's facts (figures, themes, the riskiest ticket ids), never ticket text. Every claim it
returns must cite theme or ticket ids that are in the facts and exist: a claim citing an id that does not,
or citing nothing, is dropped; if that leaves nothing, or drops more than half, the whole answer is
rejected as `invalid_output` and the template writes the page. Either way the summary records it."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import pybreaker

from analysis.models import AnalysisRun
from classification import breaker, llm
from tickets.models import Ticket

logger = logging.getLogger(__name__)

# The facts show the LLM at most this many themes (the largest).
FACT_THEMES = 15
TEMPLATE_THEMES = 5
NAMES = {"category": "Category", "priority": "Priority", "sentiment": "Sentiment", "team": "Team", "channel": "Channel"}


def facts(run: AnalysisRun, results: dict[str, Any]) -> dict[str, Any]:
    """What the summary is written from: figures and themes, ids, no ticket text."""
    figures = results["figures"]
    return {
        "period": results["period"]["label"],
        "filters": run.filters,
        "tickets": figures["count"],
        "previous_period_tickets": results["previous"]["count"],
        "high_risk_tickets": figures["high_risk"],
        "llm_share_percent": figures["llm_share"],
        "figures": {name: figures["by"].get(name, [])[:6] for name in NAMES},
        "themes": [
            {key: theme[key] for key in ("id", "label", "count", "share", "previous_share", "trend", "representatives")}
            for theme in results["themes"][:FACT_THEMES]
        ],
        "faded_themes": [theme["label"] for theme in results["faded"][:5]],
        "risky_tickets": results["risky"],
    }


def _known_ids(given: dict[str, Any]) -> tuple[set[int], set[int]]:
    themes = {theme["id"] for theme in given["themes"]}
    tickets = {pk for theme in given["themes"] for pk in theme["representatives"]}
    tickets |= {ticket["id"] for ticket in given["risky_tickets"]}
    return themes, set(Ticket.objects.filter(pk__in=tickets).values_list("pk", flat=True))


def checked_claims(claims: list[dict[str, Any]], given: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The claims whose every cited id is in the facts and exists, and how many were dropped."""
    themes, tickets = _known_ids(given)
    kept = [
        claim
        for claim in claims
        if (claim["theme_ids"] or claim["ticket_ids"])
        and set(claim["theme_ids"]) <= themes
        and set(claim["ticket_ids"]) <= tickets
    ]
    return kept, len(claims) - len(kept)


def template_summary(given: dict[str, Any], reason: str = "", error: str = "") -> dict[str, Any]:
    """The same page from the figures alone."""
    claims = []
    for theme in given["themes"][:TEMPLATE_THEMES]:
        trend = theme["trend"]
        change = "" if trend in ("new", "no baseline") else f" (previous period {theme['previous_share']}%)"
        claims.append(
            {
                "text": f"{theme['label'].capitalize()}: {theme['count']} tickets, {theme['share']}% of the period, "
                f"{trend}{change}.",
                "theme_ids": [theme["id"]],
                "ticket_ids": theme["representatives"][:3],
            }
        )
    new = [theme["id"] for theme in given["themes"] if theme["trend"] == "new"]
    if new:
        claims.append({"text": f"{len(new)} themes are new this period.", "theme_ids": new[:10], "ticket_ids": []})
    growing = [theme["id"] for theme in given["themes"] if theme["trend"] == "growing"]
    if growing:
        claims.append({"text": f"{len(growing)} themes are growing.", "theme_ids": growing[:10], "ticket_ids": []})
    risky = [ticket["id"] for ticket in given["risky_tickets"][:5]]
    if risky:
        claims.append(
            {
                "text": f"{given['high_risk_tickets']} tickets are high risk; the riskiest are listed first.",
                "theme_ids": [],
                "ticket_ids": risky,
            }
        )
    before = given["previous_period_tickets"]
    change = f", {before} in the previous period" if before else ""
    return {
        "source": "template",
        "fallback_reason": reason,
        "error": error[:500],
        "headline": f"{given['tickets']} tickets in {given['period']}{change}; {len(given['themes'])} themes shown.",
        "claims": claims,
        "dropped_claims": 0,
    }


def _llm_summary(given: dict[str, Any]) -> dict[str, Any]:
    if not llm.is_configured():
        return template_summary(given, "not_configured")
    try:
        result = breaker.call(lambda: llm.summarize(given))
    except pybreaker.CircuitBreakerError as exc:
        cause = breaker.original_error(exc)
        return template_summary(given, cause.reason if cause else "breaker_open", str(exc))
    except llm.LLMError as exc:
        logger.warning("analysis summary: LLM failed (%s)", exc.reason)
        return template_summary(given, exc.reason, str(exc))
    claims, dropped = checked_claims(result.claims, given)
    if not claims or dropped * 2 > len(result.claims):
        logger.warning("analysis summary: %d of %d claims cite ids that do not exist", dropped, len(result.claims))
        why = f"{dropped} of {len(result.claims)} claims cited unknown ids"
        summary = template_summary(given, "invalid_output", why)
        summary["dropped_claims"] = dropped
        return summary
    return {
        "source": "llm",
        "fallback_reason": "",
        "error": "",
        "headline": result.headline,
        "claims": claims,
        "dropped_claims": dropped,
        "model": result.model_name,
        "prompt_version": result.prompt_version,
        "tokens": (result.prompt_tokens or 0) + (result.completion_tokens or 0),
        "cost_usd": str(result.cost_usd) if result.cost_usd is not None else None,
    }


def summarize(run: AnalysisRun, results: dict[str, Any]) -> dict[str, Any]:
    return _llm_summary(facts(run, results))


def _cites(claim: dict[str, Any]) -> str:
    parts = []
    if claim["theme_ids"]:
        parts.append("themes " + ", ".join(str(pk) for pk in claim["theme_ids"]))
    if claim["ticket_ids"]:
        parts.append("tickets " + ", ".join(f"#{pk}" for pk in claim["ticket_ids"]))
    return "; ".join(parts)


def markdown(run: AnalysisRun) -> str:
    results, summary = run.results, run.summary
    figures = results["figures"]
    lines = [
        f"# Analysis #{run.pk}: {results['period']['label']}",
        "",
        f"{figures['count']} tickets ({results['previous']['count']} in the previous period of the same length).",
        f"Filters: {', '.join(f'{k}={v}' for k, v in run.filters.items()) or 'none'}.",
        "",
        "## Summary",
        "",
        f"*{summary['headline']}*",
        "",
        *[f"- {claim['text']} ({_cites(claim)})" for claim in summary["claims"]],
        "",
        f"Written by: {'the LLM (' + summary.get('model', '') + ')' if summary['source'] == 'llm' else 'template'}"
        + (f"; the LLM's answer was not used ({summary['fallback_reason']})" if summary["fallback_reason"] else ""),
        "",
        "## Themes",
        "",
        "| id | theme | tickets | share | previous | trend | examples |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {t['id']} | {t['label']} | {t['count']} | {t['share']}% | {t['previous_share']}% | {t['trend']} | "
            + ", ".join(f"#{pk}" for pk in t["representatives"])
            + " |"
            for t in results["themes"]
        ],
        "",
        "## Figures",
    ]
    for name, title in NAMES.items():
        rows = figures["by"].get(name, [])
        lines += ["", f"### {title}", "", "| value | tickets | share |", "| --- | --- | --- |"]
        lines += [f"| {row['label']} | {row['count']} | {row['share']}% |" for row in rows]
    lines += ["", "## Highest risk", "", *[f"- #{t['id']} risk {t['risk']}" for t in results["risky"]], ""]
    incidents = results.get("incidents") or []
    lines += [
        "## Incidents",
        "",
        *[f"- Incident #{i['id']} ({i['status']}): {i['title']}, {i['ticket_count']} tickets" for i in incidents],
    ]
    lines += ["" if incidents else "None.", ""]
    llm_figures = figures["llm"]
    lines += [
        f"LLM: {figures['llm_share'] if figures['llm_share'] is not None else '-'}% of automatic classifications, "
        f"{llm_figures['calls']} calls, {llm_figures['tokens']} tokens, ${llm_figures['cost_usd']}.",
        "",
    ]
    return "\n".join(lines)


def themes_csv(run: AnalysisRun) -> str:
    """One row per ticket in a theme: the theme's id, label, size, share, trend, the ticket, and whether it
    is one of the theme's representatives. (Themes found in a sample list the sampled tickets.)"""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["theme_id", "label", "count", "share", "previous_share", "trend", "ticket_id", "representative"])
    for theme in run.results.get("themes", []):
        representatives = set(theme["representatives"])
        for pk in theme["ticket_ids"]:
            writer.writerow(
                [
                    theme["id"],
                    theme["label"],
                    theme["count"],
                    theme["share"],
                    theme["previous_share"],
                    theme["trend"],
                    pk,
                    int(pk in representatives),
                ]
            )
    return out.getvalue()
