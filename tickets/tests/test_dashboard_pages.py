"""Every dashboard page, at a laptop's size and a phone's, in real headless Chromium: no sideways scroll,
every action on screen, no failed request (favicon included), and an accessibility pass with axe-core
(labels on every control, contrast, landmarks). Each page's screenshot goes to artifacts/screens/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from analysis import services as analysis_services
from classification.services import classify_ticket
from incidents.models import Incident
from incidents.services import process_classified
from incidents.tests.factories import OutageTicketFactory
from tickets.models import Ticket
from tickets.tests.conftest import SIZES, axe_violations, needs_chromium, screenshot, sideways_overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def busy_desk(default_taxonomy: None) -> Any:
    """What `make run` shows: the seed's demo tickets (states, assignees, colleagues), classified, two failed."""
    call_command("seed", "--count", "30", "--seed", "11", "--no-classify", verbosity=0)
    ids = list(Ticket.objects.order_by("id").values_list("pk", flat=True))
    for pk in ids[2:]:
        classify_ticket(pk)
    Ticket.objects.filter(pk__in=ids[:2]).fail("OperationalError: database is locked")
    # An outage under way (five customers within minutes), and everyone's similar tickets and likely duplicates.
    outage = [OutageTicketFactory.create(customer_email=f"customer{i}@example.com") for i in range(5)]
    process_classified([*ids[2:], *(t.pk for t in outage)])
    return get_user_model().objects.get(username="demo")


# (name, path, the actions that must be on screen). {ticket} is a classified ticket's id, {run} a completed
# analysis run's.
PAGES = [
    ("overview", "/", ["a[aria-current=true]", ".custom-range summary"]),
    ("overview-today", "/?range=today", [".columns li"]),
    ("tickets", "/tickets/", ["#bulk-form button[type=submit]", "#ticket-rows input[name=ids]", "text=Export CSV"]),
    ("tickets-search", "/tickets/?search=order&state=", ["#ticket-rows mark"]),
    (
        "ticket",
        "/tickets/{ticket}/",
        ["text=Resolve", "text=Save correction", "text=Assign to me", "text=Copy", ".citations li a"],
    ),
    ("new-ticket", "/tickets/new/", ["text=Create ticket"]),
    ("review", "/review/", ["#review-rows tbody button:has-text('Confirm')", "text=Confirm selected"]),
    ("failed", "/failed/", ["tbody button:has-text('Retry')", "text=Retry all"]),
    ("me", "/me/", ["#id_team"]),
    ("analysis", "/analysis/", ["text=Start analysis", "table.runs tbody a"]),
    ("analysis-run", "/analysis/{run}/", ["text=Download Markdown", "#theme-1", ".claims a"]),
    ("incidents", "/incidents/", ["#incident-banner a", "tbody a.title"]),
    ("incident", "/incidents/{incident}/", ["text=Close incident", "table.similar a"]),
    ("ticket-similar", "/tickets/{outage}/", ["table.similar button", "text=Similar tickets"]),
    ("customers", "/customers/", ["text=Rules the classification applies", "text=Filter"]),
    ("customer", "/customers/{customer}/", ["text=All their tickets", ".trend"]),
    ("knowledge", "/kb/?q=refund", ["#id_q", "#kb-results li", "text=Upload"]),
    ("kb-gaps", "/kb/gaps/", ["#id_days", "text=Show"]),
]


# What a person should never read on a page: the taxonomy's and the chain's internal names.
SLUGS = re.compile(r"\b(feature_request|bug_report|not_configured|breaker_open|invalid_output|over_budget|half-open)\b")


def _on_screen(page: Any, selector: str, width: int) -> str | None:
    element = page.locator(selector).first
    if not element.count():
        return f"{selector}: missing"
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    if not element.is_visible() or box is None or box["x"] < 0 or box["x"] + box["width"] > width + 0.5:
        return f"{selector}: not on screen ({box})"
    return None


def _regular_customer(ticket: Ticket) -> str:
    """The ticket's customer, a VIP on the enterprise plan with three earlier tickets: the panel at its fullest."""
    from customers.models import Customer, key_for

    earlier = Ticket.objects.filter(status="classified").exclude(pk=ticket.pk).order_by("id")[:3]
    Ticket.objects.filter(pk__in=list(earlier.values_list("pk", flat=True))).update(
        customer_id=ticket.customer_id, customer_email=ticket.customer_email
    )
    key = key_for(ticket.customer_id, ticket.customer_email)
    Customer.objects.filter(key=key).update(
        vip=True, plan="enterprise", organisation="Acme", attributes={"region": "EU"}
    )
    return key


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_the_screen_shows_its_actions_and_passes_axe(open_page, busy_desk, size):
    page = open_page(busy_desk, size)
    # A ticket whose suggested reply cites the demo knowledge base (the seed loads it).
    ticket = Ticket.objects.filter(status="classified", classifications__citations__isnull=False).order_by("id")[0]
    incident = Incident.objects.get()
    outage = incident.memberships.order_by("ticket_id")[0].ticket_id
    customer = _regular_customer(ticket)
    run = analysis_services.start_run(*analysis_services.last_week(), publish=False)
    Ticket.objects.update(created=timezone.now() - timedelta(days=2))  # the seed's tickets in last week
    analysis_services.run_inline(run.pk)
    problems: list[str] = []
    for name, path, actions in PAGES:
        page.goto(
            page.base
            + path.format(ticket=ticket.pk, run=run.pk, incident=incident.pk, outage=outage, customer=customer)
        )
        page.wait_for_load_state("networkidle")
        overflow = sideways_overflow(page)
        if overflow:
            problems.append(f"{name}: {overflow} px of sideways scroll")
        problems += [f"{name}: {p}" for p in filter(None, (_on_screen(page, a, SIZES[size]["width"]) for a in actions))]
        problems += [f"{name}: axe {violation}" for violation in axe_violations(page)]
        # Everything folded (filters, popovers, the chart's table) unfolded: still no sideways scroll, still clean.
        if page.evaluate(
            "() => { const d = [...document.querySelectorAll('details:not([open])')]; d.forEach(e => e.open = true); return d.length; }"
        ):
            overflow = sideways_overflow(page)
            if overflow:
                problems.append(f"{name}, unfolded: {overflow} px of sideways scroll")
            problems += [f"{name}, unfolded: axe {violation}" for violation in axe_violations(page)]
        problems += [f"{name}: shows the raw name {slug!r}" for slug in set(SLUGS.findall(page.inner_text("main")))]
        if name == "ticket":  # the history table keeps its last column inside its card
            clipped = page.evaluate(
                "() => { const t = document.querySelector('table.history'); const c = t.closest('.card');"
                " return t.getBoundingClientRect().right - c.getBoundingClientRect().right; }"
            )
            if clipped > 0:
                problems.append(f"ticket: the history table runs {clipped} px past its card")
        screenshot(page, f"{name}-{size}")
    problems += [f"failed request {status} {url}" for status, url in page.failed_responses]
    assert problems == []


@pytest.mark.parametrize("size", list(SIZES))
def test_the_login_page_fits_and_passes_axe(open_page, size):
    page = open_page(None, size)
    page.goto(page.base + "/")
    page.wait_for_url("**/accounts/login/**")
    assert sideways_overflow(page) == 0
    assert axe_violations(page) == []
    assert page.failed_responses == []
    screenshot(page, f"login-{size}")


def test_a_phone_shows_three_similar_tickets_until_asked_for_all(open_page, busy_desk):
    incident = Incident.objects.get()
    outage = incident.memberships.order_by("ticket_id")[0].ticket_id
    rows = "table.similar tbody tr"
    for size, shown_first in (("phone", 3), ("desktop", None)):
        page = open_page(busy_desk, size)
        page.goto(f"{page.base}/tickets/{outage}/")
        total = page.locator(rows).count()
        assert total > 3
        visible = page.locator(f"{rows} >> visible=true").count()
        toggle = page.get_by_label(f"Show all {total} similar tickets")
        if shown_first is None:  # a desktop shows every row and no switch
            assert visible == total and not toggle.is_visible()
            continue
        assert visible == shown_first and toggle.is_visible()
        toggle.check()
        assert page.locator(f"{rows} >> visible=true").count() == total
