"""Layout for the server-rendered SVG charts: sizes are computed here, the markup is in the templates."""

from __future__ import annotations

from typing import Any

from django import template

from tickets.stats import Bar

register = template.Library()

BAR_AREA = 170  # width available to the longest horizontal bar
ROW_HEIGHT = 24
COLUMN_AREA = 110  # height available to the tallest column


@register.simple_tag
def bar_layout(bars: list[Bar]) -> dict[str, Any]:
    peak = max((bar.value for bar in bars), default=0) or 1
    rows = [
        {
            "label": bar.label,
            "value": bar.value,
            "css": bar.css,
            "y": index * ROW_HEIGHT,
            "width": max(2, round(BAR_AREA * bar.value / peak)) if bar.value else 0,
        }
        for index, bar in enumerate(bars)
    ]
    return {"rows": rows, "height": max(ROW_HEIGHT, len(rows) * ROW_HEIGHT)}


@register.simple_tag
def column_layout(bars: list[Bar]) -> dict[str, Any]:
    peak = max((bar.value for bar in bars), default=0)
    step = 26 if len(bars) > 12 else 60
    label_every = 3 if len(bars) > 12 else 1
    columns = []
    for index, bar in enumerate(bars):
        height = round(COLUMN_AREA * bar.value / peak) if peak else 0
        columns.append(
            {
                "label": bar.label,
                "value": bar.value,
                "x": index * step,
                "w": step - 6,
                "h": height,
                "y": 120 - height,
                "show_label": index % label_every == 0,
            }
        )
    return {"columns": columns, "width": max(step, len(bars) * step), "peak": peak}
