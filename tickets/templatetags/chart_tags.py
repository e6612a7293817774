"""Layout for the server-rendered charts: sizes are computed here (as percentages, so text keeps its real
size at any width), the markup is in the templates."""

from __future__ import annotations

from typing import Any

from django import template

from tickets.stats import Bar

register = template.Library()

# The trend chart's drawing box (SVG units, stretched to the chart's width).
LINE_WIDTH = 100
LINE_HEIGHT = 40
# Trend series get these colour classes in turn (static/css/app.css).
SERIES_COLOURS = 8


def _pct(value: int, peak: int) -> float:
    return round(100 * value / peak, 1) if peak else 0.0


@register.simple_tag
def bar_rows(bars: list[Bar]) -> list[dict[str, Any]]:
    """Horizontal bars: each row's share of the longest, in percent."""
    peak = max((bar.value for bar in bars), default=0)
    return [{"label": bar.label, "value": bar.value, "css": bar.css, "pct": _pct(bar.value, peak)} for bar in bars]


@register.simple_tag
def column_layout(bars: list[Bar]) -> dict[str, Any]:
    """Vertical columns: heights in percent of the tallest, and which axis labels to print (every third
    of 24 hours, every day of a week, about eight of a month)."""
    peak = max((bar.value for bar in bars), default=0)
    every = 1 if len(bars) <= 8 else 3 if len(bars) <= 24 else max(1, len(bars) // 8)
    columns = [
        {"label": bar.label, "value": bar.value, "pct": _pct(bar.value, peak), "show_label": index % every == 0}
        for index, bar in enumerate(bars)
    ]
    return {"columns": columns, "peak": peak, "total": sum(bar.value for bar in bars)}


@register.simple_tag
def line_layout(trends: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """One polyline per category over the period's buckets, all on the same scale."""
    peak = max((max(series["values"], default=0) for series in trends), default=0)
    steps = max(1, len(labels) - 1)
    lines = []
    for index, series in enumerate(trends):
        points = " ".join(
            f"{round(LINE_WIDTH * i / steps, 2)},{round(LINE_HEIGHT - (LINE_HEIGHT * v / peak if peak else 0), 2)}"
            for i, v in enumerate(series["values"])
        )
        lines.append({**series, "points": points, "colour": index % SERIES_COLOURS, "total": sum(series["values"])})
    middle = labels[len(labels) // 2] if len(labels) > 2 else ""
    return {
        "lines": lines,
        "peak": peak,
        "width": LINE_WIDTH,
        "height": LINE_HEIGHT,
        "axis": [labels[0] if labels else "", middle, labels[-1] if labels else ""],
    }


@register.simple_tag
def average_rows(averages: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """Average risk or confidence (0 to 1, so widths are in percent of 1): the period's in all, then each
    category that has classified tickets."""
    rows = [{"label": "All", "value": averages[field], "n": averages["classified"], "all": True}]
    rows += [
        {"label": row["label"], "value": row[field], "n": row["classified"], "all": False}
        for row in averages["categories"]
        if row["classified"]
    ]
    return [{**row, "pct": round(100 * row["value"], 1) if row["value"] is not None else 0.0} for row in rows]
