"""How the dashboard words a ticket: category names rather than slugs, times relative to now, the SLA, and
search terms highlighted. Presentation only; the figures come from the views."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from classification.keywords.info import INFO_LABELS
from classification.models import FallbackReason, TripReason
from tickets.models import ACTIVE_STATES, Ticket
from tickets.views.common import LAST_LIST

register = template.Library()

# SLA: a ticket due within this long is shown as due soon.
DUE_SOON = timedelta(hours=1)


@register.simple_tag(takes_context=True)
def category_name(context: template.Context, slug: str) -> str:
    """The category's name as the forms show it (the slug if the taxonomy no longer has it)."""
    names = context.get("category_names") or {}
    return names.get(slug, slug) if slug else ""


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 48 * 3600:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h" if hours >= 10 or not minutes else f"{hours} h {minutes} min"
    return f"{seconds // 86400} days"


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now', '7 min ago', '3 h ago', '4 days ago' (never '0 minutes ago')."""
    if moment is None:
        return ""
    delta = timezone.now() - moment
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{_span(delta)} ago"


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as a short duration: '0.4 s', '12 s', '3 min', '2 h 5 min'."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{round(seconds)} s"
    return _span(timedelta(seconds=seconds))


@dataclass(frozen=True)
class SLA:
    kind: str  # "overdue", "soon", "ok", "done", "none"
    text: str
    title: str


@register.simple_tag
def sla(ticket: Ticket) -> SLA:
    """Where the ticket stands against its due time: overdue (and by how long), due soon, or time left.
    Resolved tickets and tickets not classified yet have no SLA to show."""
    if ticket.state not in ACTIVE_STATES:
        return SLA("done", ticket.get_state_display(), "")
    if ticket.due_at is None:
        return SLA("none", "—", "No due time until the ticket is classified")
    due = timezone.localtime(ticket.due_at)
    title = f"Due {due:%Y-%m-%d %H:%M}"
    left = ticket.due_at - timezone.now()
    if left < timedelta(0):
        return SLA("overdue", f"Overdue {_span(left)}", title)
    if left < DUE_SOON:
        return SLA("soon", f"Due in {_span(left)}", title)
    return SLA("ok", f"Due in {_span(left)}", title)


@register.simple_tag(takes_context=True)
def highlight(context: template.Context, text: Any) -> SafeString:
    """The text, escaped, with each occurrence of the list's search (`search` in the context), in any
    case, marked: `{% highlight ticket.subject %}`."""
    value = str(text or "")
    term = str(context.get("search") or "").strip()
    if not term:
        return conditional_escape(value)
    parts = re.split(f"({re.escape(term)})", value, flags=re.IGNORECASE)
    marked = [format_html("<mark>{}</mark>", p) if i % 2 else conditional_escape(p) for i, p in enumerate(parts)]
    return mark_safe("".join(marked))  # every part is escaped above


@register.filter
def limit_text(count: int, cap: int) -> str:
    """A capped count as shown: '10,000+' when it reached the cap."""
    return f"{count:,}+" if count >= cap else f"{count:,}"


@register.filter
def words(name: str) -> str:
    """A field's name in words: 'error codes' for `error_codes`."""
    return str(name).replace("_", " ")


@register.filter
def reason_label(reason: str) -> str:
    """Why the keyword classifier answered, in words ('no LLM configured' for `not_configured`)."""
    try:
        return str(FallbackReason(reason).label)
    except ValueError:
        return reason.replace("_", " ")


@register.filter
def info_labels(kinds: list[str]) -> str:
    """Required information in words: 'order id, email'."""
    return ", ".join(INFO_LABELS.get(kind, kind) for kind in kinds or [])


@register.filter
def percent(value: float | None) -> str:
    return f"{round(value * 100)}%" if value is not None else ""


@register.filter
def trip_label(reason: str | None) -> str:
    """Which condition opened a breaker, in words ('failure rate' for `failure_rate`)."""
    try:
        return str(TripReason(reason or "").label)
    except ValueError:
        return (reason or "reason not recorded").replace("_", " ")


@register.simple_tag(takes_context=True)
def last_list_url(context: template.Context) -> str:
    """The ticket list as the agent last saw it (filters and page), for the way back from a ticket."""
    request = context.get("request")
    session = getattr(request, "session", None)
    return (session.get(LAST_LIST) if session is not None else None) or reverse("tickets:list")
