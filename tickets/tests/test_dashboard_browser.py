"""The dashboard in real headless Chromium against the live server (and, where it matters, a real Celery
worker): a shift's work done from the browser alone, at a laptop's size and at a phone's."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from classification.services import classify_ticket
from tickets import services, workflow
from tickets.models import Status, Ticket, WorkState
from tickets.tests.conftest import SIZES, mark_document, needs_chromium, screenshot
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]

BOTH = pytest.mark.parametrize("size", list(SIZES))


def _classified(**fields: Any) -> Ticket:
    ticket = TicketFactory.create(**fields)
    classify_ticket(ticket.pk)
    ticket.refresh_from_db()
    return ticket


def _list_rows(page: Any) -> list[str]:
    return page.locator("#ticket-rows tr[data-href] .title").all_inner_texts()


def test_logging_in_through_the_form_shows_the_overview(open_page, agent):
    TicketFactory.create_batch(3, classified=True, category="billing", priority="high")
    page = open_page(None)
    page.goto(page.base + "/accounts/login/")
    page.fill("input[name=username]", agent.username)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/")
    assert page.locator("#stats").is_visible() and page.locator("#charts .chart").count() == 11
    assert page.locator("#breaker-badge").inner_text().startswith("LLM")


def test_a_ticket_posted_through_the_form_turns_classified_without_reloading(open_page, agent, celery_worker_process):
    celery_worker_process()
    page = open_page(agent)
    page.goto(page.base + "/tickets/new/")
    mark_document(page)
    assert page.input_value("select[name=channel]") == "email"  # not "API": an agent typed it in
    assert page.locator("select[name=declared_priority] option").first.inner_text() == "Not stated"
    page.fill("input[name=subject]", "Charged twice for order #77812")
    page.fill("textarea[name=body]", "Please refund the duplicate charge of $30.00.")
    page.click("#ticket-form button[type=submit]")
    row = page.locator("#created-tickets tr").first
    row.locator("[data-status]").wait_for(state="attached")
    page.wait_for_function(
        "document.querySelector('#created-tickets tr [data-status]').dataset.status === 'classified'", timeout=60_000
    )
    assert "Billing and payments" in row.inner_text() and "just now" in row.inner_text()
    assert page.evaluate("window.__noReload") is True
    assert page.input_value("input[name=subject]") == ""  # the form cleared itself


def test_a_form_error_does_not_move_the_fields(open_page, agent):
    page = open_page(agent)
    page.goto(page.base + "/tickets/new/")
    before = {name: page.locator(f"[name={name}]").bounding_box() for name in ("subject", "body", "channel")}
    page.click("#ticket-form button[type=submit]")
    page.locator(".form-errors .error").wait_for()
    assert "needs a subject or a body" in page.inner_text(".form-errors")
    after = {name: page.locator(f"[name={name}]").bounding_box() for name in ("subject", "body", "channel")}
    assert after == before


@BOTH
def test_back_and_forward_restore_the_filters_with_the_results(open_page, agent, size):
    TicketFactory.create(subject="Invoice question", body="", classified=True, category="billing", priority="high")
    TicketFactory.create(subject="Refund late", body="", classified=True, category="billing", priority="critical")
    TicketFactory.create(subject="App crashes", body="", classified=True, category="technical", priority="critical")
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/")
    if size == "phone":  # the filters start folded on a phone
        page.locator(".filter-box > summary").click()
    mark_document(page)
    page.select_option("select[name=priority]", "critical")
    page.wait_for_url("**priority=critical**")
    page.select_option("select[name=category]", "billing")
    page.wait_for_url("**category=billing**")
    page.wait_for_function("!document.querySelector('#ticket-list').innerText.includes('App crashes')")
    assert _list_rows(page) == ["Refund late"]
    page.go_back()
    page.wait_for_function("document.querySelector('#ticket-list').innerText.includes('App crashes')")
    assert (page.input_value("select[name=priority]"), page.input_value("select[name=category]")) == ("critical", "")
    page.go_forward()
    page.wait_for_function("!document.querySelector('#ticket-list').innerText.includes('App crashes')")
    assert (page.input_value("select[name=priority]"), page.input_value("select[name=category]")) == (
        "critical",
        "billing",
    )
    # The next change keeps the restored filters rather than silently dropping them.
    page.select_option("select[name=sort]", "risk")
    page.wait_for_url("**sort=risk**")
    assert "priority=critical" in page.url and "category=billing" in page.url
    assert page.evaluate("window.__noReload") is True  # only the list was swapped
    # Off to a ticket and back: the full page comes back with its filters.
    page.locator("#ticket-rows a.title").first.click()
    page.wait_for_url("**/tickets/*/")
    page.go_back()
    page.wait_for_url("**priority=critical**")
    assert page.locator("header.topbar").is_visible() and page.input_value("select[name=category]") == "billing"


def test_a_correction_is_saved_shown_at_once_and_follows_the_new_categorys_team(open_page, agent):
    ticket = _classified(subject="Refund please", body="I want my money back for order 55123")
    page = open_page(agent)
    page.goto(f"{page.base}/tickets/{ticket.pk}/")
    mark_document(page)
    assert page.get_attribute("[data-field=category]", "data-value") == "billing"
    assert page.input_value("form.correction select[name=team]") == ""  # route by category
    page.select_option("form.correction select[name=category]", "account")  # only the category
    page.click("form.correction button[type=submit]")
    page.wait_for_function("document.querySelector('[data-field=category]').dataset.value === 'account'")
    assert page.inner_text("[data-field=team]") == "accounts"
    assert "Human" in page.inner_text("[data-field=source]")
    assert page.evaluate("window.__noReload") is True


@BOTH
def test_new_tickets_announce_themselves_without_moving_the_list(open_page, agent, size):
    TicketFactory.create_batch(30, classified=True)
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/")
    mark_document(page)
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(300)
    # The row at the top of the window, and where it is: the agent's place.
    where = """() => {
        const row = [...document.querySelectorAll('#ticket-rows tr')].find(r => r.getBoundingClientRect().top >= 0);
        return [row.id, row.getBoundingClientRect().top];
    }"""
    place = page.evaluate(where)
    services.create_ticket({"subject": "Brand new arrival", "body": "Hello", "channel": "api"})
    services.create_ticket({"subject": "Second arrival", "body": "Hello", "channel": "api"})
    bar = page.locator("#arrivals a")
    bar.wait_for(timeout=15_000)
    assert bar.inner_text().startswith("2 new tickets")
    assert page.evaluate(where) == place and "Brand new arrival" not in page.inner_text("#ticket-rows")
    box = bar.bounding_box()  # on screen wherever the agent had scrolled to
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= SIZES[size]["height"]
    bar.click()
    page.wait_for_function("document.querySelector('#ticket-rows').innerText.includes('Brand new arrival')")
    assert page.evaluate("window.__noReload") is True
    # htmx scrolls the list's top into view once the swap has settled (show:top), a moment after the swap.
    page.wait_for_function("document.querySelector('#ticket-rows tr').getBoundingClientRect().top >= 0")
    newest = page.locator("#ticket-rows tr").first.bounding_box()  # the list's top is in view, the new ones first
    assert newest is not None and 0 <= newest["y"] < SIZES[size]["height"]


@BOTH
def test_overdue_tickets_stand_out_and_sort_first(open_page, agent, size):
    now = timezone.now()
    TicketFactory.create(subject="Fine for now", classified=True, due_at=now + timedelta(hours=20))
    TicketFactory.create(subject="Way overdue", classified=True, due_at=now - timedelta(hours=5))
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/?sort=due")
    overdue = page.locator("tr.overdue .sla-overdue")
    assert overdue.count() == 1 and overdue.first.is_visible() and overdue.first.inner_text() == "Overdue 5 h"
    colour = overdue.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(180, 35, 24)"  # the critical red, not grey small print
    assert _list_rows(page)[0] == "Way overdue"


@BOTH
def test_an_agent_takes_a_ticket_works_it_and_resolves_it(open_page, agent, size):
    workflow.set_team(agent, "billing")
    ticket = _classified(subject="Charged twice", body="I was charged twice for my invoice, please refund")
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/?assignee=none&team=mine")
    assert _list_rows(page) == ["Charged twice"]
    page.locator("#ticket-rows a.title").first.click()
    page.click("text=Assign to me")
    page.wait_for_function("document.querySelector('[data-field=assignee]').innerText === 'agent'")
    page.click("button:has-text('Mark pending')")
    page.wait_for_function("document.querySelector('[data-field=state]').innerText === 'Pending'")
    page.click("button:has-text('Resolve')")
    page.wait_for_function("document.querySelector('[data-field=state]').innerText === 'Resolved'")
    activity = page.inner_text(".activity")
    assert "assigned it to agent" in activity and "moved it from pending to resolved" in activity
    page.goto(page.base + "/tickets/?assignee=me")
    assert _list_rows(page) == []  # resolved tickets leave the default views
    page.click(".views a:has-text('Resolved')")
    page.wait_for_url("**state=resolved**")
    assert _list_rows(page) == ["Charged twice"]
    page.goto(f"{page.base}/tickets/{ticket.pk}/")
    page.click("button:has-text('Reopen')")
    page.wait_for_function("document.querySelector('[data-field=state]').innerText === 'Open'")
    ticket.refresh_from_db()
    assert (ticket.state, ticket.assignee) == (WorkState.OPEN, agent)


@BOTH
def test_bulk_actions_on_selected_rows_and_on_everything_the_filter_matches(open_page, agent, size):
    UserFactory.create(username="ann", first_name="Ann", permissions=["tickets.change_ticket"])
    tickets = TicketFactory.create_batch(3, classified=True, category="general", priority="low")
    TicketFactory.create_batch(2, classified=True, category="billing")
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/?category=general")
    for box in page.locator("#ticket-rows input[name=ids]").all()[:2]:
        box.check()
    assert page.inner_text("[data-selected-count]") == "2 selected"
    page.select_option("select[data-bulk-action]", "assign")
    page.select_option("#bulk-form select[name=assignee]", "ann")
    page.click("#bulk-form button[type=submit]")
    page.locator(".message").wait_for()
    assert "2 tickets assigned to ann." in page.inner_text(".message")
    assert Ticket.objects.filter(assignee__username="ann").count() == 2
    page.check("input[name=scope]")
    assert page.inner_text("[data-selected-count]") == "all matching tickets"
    assert "All 3 matching the filter" in page.inner_text("#bulk-form")
    page.select_option("select[data-bulk-action]", "priority")
    assert page.locator("#bulk-form [data-for=priority]").is_visible()
    assert not page.locator("#bulk-form [data-for=assign]").is_visible()
    page.select_option("#bulk-form select[name=priority]", "high")
    page.click("#bulk-form button[type=submit]")  # asks first: "Cancel" changes nothing
    page.wait_for_timeout(300)
    assert page.dialogs == ["Correct priority: apply to all 3 tickets matching the filter?"]
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("priority", flat=True)) == {"low"}
    page.accept_dialogs = True
    page.click("#bulk-form button[type=submit]")
    page.wait_for_function("document.querySelector('.message')?.innerText.includes('3 tickets given priority high')")
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("priority", flat=True)) == {"high"}
    assert set(Ticket.objects.filter(category="billing").values_list("priority", flat=True)) == {"medium"}


@BOTH
def test_needs_review_confirms_one_or_a_whole_page(open_page, agent, size):
    tickets = [_classified(subject=f"Question {n}", body="Where can I find the documentation?") for n in range(4)]
    page = open_page(agent, size)
    page.goto(page.base + "/review/")
    first = page.locator(f"#review-{tickets[0].pk} button:has-text('Confirm')")
    first.click()
    page.locator(f"#review-{tickets[0].pk}").wait_for(state="detached")
    page.check("[data-select-page]")
    assert page.inner_text("[data-selected-count]") == "3 selected"
    page.click("text=Confirm selected")
    page.wait_for_function("document.querySelector('.message')?.innerText.includes('3 tickets confirmed')")
    assert "Nothing to review." in page.inner_text("#review-rows")
    assert Ticket.objects.filter(classification_source="human").count() == 4


@BOTH
def test_failed_tickets_are_retried_from_the_phone_too(open_page, agent, size):
    failed = TicketFactory.create(subject="Stuck one", failed=True)
    page = open_page(agent, size)
    page.goto(page.base + "/failed/")
    page.locator(f"#failed-{failed.pk} button:has-text('Retry')").click()
    page.wait_for_url(f"**/tickets/{failed.pk}/")
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED


def test_a_saved_view_brings_its_filters_back(open_page, agent):
    TicketFactory.create(subject="Urgent bill", classified=True, category="billing", priority="critical")
    TicketFactory.create(subject="Slow tech", classified=True, category="technical", priority="low")
    page = open_page(agent)
    page.goto(page.base + "/tickets/")
    page.select_option("select[name=priority]", "critical")
    page.wait_for_url("**priority=critical**")
    page.click(".save-view summary")
    page.fill(".save-view input[name=name]", "Fires")
    page.check(".save-view input[name=shared]")
    page.click(".save-view button[type=submit]")
    page.wait_for_url("**priority=critical**")
    assert "View “Fires” saved." in page.inner_text(".messages")
    page.click(".views a:has-text('Open')")
    page.wait_for_function("document.querySelector('#ticket-list').innerText.includes('Slow tech')")
    page.click(".views a:has-text('Fires')")
    page.wait_for_url("**priority=critical**")
    assert page.input_value("select[name=priority]") == "critical" and _list_rows(page) == ["Urgent bill"]


def test_the_filtered_list_downloads_as_csv(open_page, agent):
    TicketFactory.create(subject="Export me", classified=True, category="billing")
    TicketFactory.create(subject="Not me", classified=True, category="technical")
    page = open_page(agent)
    page.goto(page.base + "/tickets/?category=billing")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    content = download.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [(row["subject"], row["category"]) for row in rows] == [("Export me", "billing")]


def test_the_keyboard_finds_moves_opens_and_corrects(open_page, agent):
    first = _classified(subject="Keyboard one", body="Refund my order please")
    second = _classified(subject="Keyboard two", body="The app crashes with error E4012")
    page = open_page(agent)
    page.goto(page.base + "/tickets/?sort=oldest")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("Keyboard")
    page.wait_for_url("**search=Keyboard**")
    page.keyboard.press("Escape")  # leaves the field as it is: the search and the list stay
    page.wait_for_timeout(600)
    assert page.input_value("#search") == "Keyboard" and len(_list_rows(page)) == 2
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.get_attribute("tr.kb-current", "id") == f"ticket-{second.pk}"
    page.keyboard.press("k")
    assert page.get_attribute("tr.kb-current", "id") == f"ticket-{first.pk}"
    page.keyboard.press("x")
    assert page.inner_text("[data-selected-count]") == "1 selected"
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#keys-help").is_visible()
    page.keyboard.press("e")
    page.wait_for_url(f"**/tickets/{first.pk}/#correct")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'category'")


@BOTH
def test_search_matches_the_customer_and_marks_the_words(open_page, agent, size):
    TicketFactory.create(subject="Wrong invoice", customer_name="Maya Okafor", customer_email="maya@shop.example")
    TicketFactory.create(subject="Other thing", customer_name="Sam Rossi", customer_email="sam@example.com")
    page = open_page(agent, size)
    page.goto(page.base + "/tickets/")
    page.keyboard.press("/")
    page.keyboard.type("okafor")
    # Each keystroke may answer on its own ("okafo" already leaves one row): wait for the whole word's answer.
    page.wait_for_url("**search=okafor**")
    page.wait_for_function("(document.querySelector('#ticket-rows mark') || {}).innerText === 'Okafor'")
    assert _list_rows(page) == ["Wrong invoice"] and page.inner_text("#ticket-rows mark") == "Okafor"


@BOTH
def test_the_overview_over_time(open_page, agent, size):
    now = timezone.now()
    for days in range(5):
        TicketFactory.create(classified=True, category="billing", created=now - timedelta(days=days))
    TicketFactory.create(classified=True, category="technical", created=now - timedelta(days=2))
    page = open_page(agent, size)
    page.goto(page.base + "/")
    assert page.locator(".section-title").all_inner_texts() == [
        "Now all tickets",
        "Last 7 days tickets received in the period",
    ]
    assert page.locator(".lines polyline").count() == 6  # one line per category
    label_size = page.locator(".col-label").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert label_size >= 10.5 and page.locator(".col-value").all_inner_texts().count("") < 7  # counts on bars
    page.click(".segmented a:has-text('Today')")
    page.wait_for_url("**range=today**")
    assert page.locator(".columns li").count() == 24 and "Today" in page.inner_text(".section-title >> nth=1")
    page.click(".custom-range summary")
    start = (timezone.localdate() - timedelta(days=3)).isoformat()
    page.fill(".custom-range input[name=start]", start)
    page.fill(".custom-range input[name=end]", timezone.localdate().isoformat())
    page.click(".custom-range button[type=submit]")
    page.wait_for_url("**range=custom**")
    assert page.locator(".columns li").count() == 4


def test_a_database_outage_says_so_and_the_page_comes_back_by_itself(open_page, agent, monkeypatch):
    from django.db import OperationalError

    from tickets import stats

    page = open_page(agent)
    real = stats.overview

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(stats, "overview", down)
    page.goto(page.base + "/")
    assert "The database is unreachable" in page.inner_text("#server-error")
    assert "Server Error (500)" not in page.content()
    monkeypatch.setattr(stats, "overview", real)
    page.locator("#stats").wait_for(timeout=20_000)  # the page reloaded itself once the database answered


def test_polling_that_loses_the_server_says_so_and_recovers(open_page, agent, monkeypatch):
    from django.db import OperationalError

    from tickets import stats

    page = open_page(agent)
    page.goto(page.base + "/")
    real = stats.overview

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(stats, "overview", down)
    page.locator("#connection").wait_for(state="visible", timeout=15_000)
    monkeypatch.setattr(stats, "overview", real)
    page.locator("#connection").wait_for(state="hidden", timeout=15_000)


def test_ticket_text_renders_as_text_and_runs_nothing(open_page, agent):
    payload = '<script>window.__xss = 1; alert("xss")</script><img src=x onerror="window.__xss = 2; alert(2)">'
    ticket = _classified(subject=payload, body=payload)
    page = open_page(agent)
    for url in (f"/tickets/{ticket.pk}/", "/tickets/", "/review/", "/tickets/?search=script"):
        page.goto(page.base + url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, url
        assert page.locator("img[src=x]").count() == 0, url
    page.goto(f"{page.base}/tickets/{ticket.pk}/")
    assert '<script>window.__xss = 1; alert("xss")</script>' in page.inner_text("pre.body")
    assert page.dialogs == []
    screenshot(page, "detail-escaped")
