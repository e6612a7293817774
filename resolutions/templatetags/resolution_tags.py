from __future__ import annotations

from typing import Any

from django import template

from resolutions import views
from tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("resolutions/partials/draft.html", takes_context=True)
def resolution_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    """The ticket's latest resolution draft and the decision form, for the ticket's page: the tickets app's
    template asks, so its views import nothing from this app."""
    panel = views.panel_context(ticket, perms=context.get("perms"), csrf_token=context.get("csrf_token"))
    return {**panel, "user": context.get("user")}  # the citations' edit links are for staff
