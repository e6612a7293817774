from __future__ import annotations

from typing import Any

from django import template

from incidents import services
from incidents.models import IncidentTicket
from tickets.models import Ticket

register = template.Library()

# Similar tickets shown on a ticket's page.
SIMILAR_SHOWN = 8


@register.inclusion_tag("incidents/partials/similar.html", takes_context=True)
def similar_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    """A ticket's similar tickets, its duplicate links and its incident, for the ticket's page: the tickets
    app's template asks, so its views import nothing from this app."""
    membership = IncidentTicket.objects.filter(ticket=ticket).select_related("incident").first()
    return {
        "ticket": ticket,
        "found": services.similar_tickets(ticket, SIMILAR_SHOWN),
        "incident": membership.incident if membership else None,
        "duplicate_of": ticket.duplicate_of,
        "likely_duplicate_of": ticket.likely_duplicate_of,
        "perms": context.get("perms"),
        "category_names": context.get("category_names"),
        "csrf_token": context.get("csrf_token"),
    }
