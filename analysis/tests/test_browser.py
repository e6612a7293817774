"""The issue's "done when", in headless Chromium with a real worker on the `analysis` queue: a lead opens the
dashboard, starts a run for last week, watches its progress bar move without reloading, and reads a summary
with themes, trends and links to tickets; a run can be cancelled from its page while it runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from analysis.models import AnalysisChunk, AnalysisRun, RunStatus
from tickets.models import Ticket
from tickets.tests.conftest import mark_document, needs_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]

TEXTS = (
    "I was charged twice for my subscription, please refund the duplicate payment",
    "The password reset link never arrives and I am locked out of my account",
    "The app crashes with an error every time I upload a file",
)


def _last_weeks_tickets(count: int) -> None:
    """`count` classified tickets spread over last week (yesterday back to six days before), three topics."""
    now = timezone.now()
    Ticket.objects.bulk_create(
        [
            Ticket(
                subject=f"Problem {n}",
                body=f"{TEXTS[n % 3]} (ref {n})",
                status="classified",
                category=("billing", "account", "technical")[n % 3],
                priority="high" if n % 7 == 0 else "medium",
                sentiment="negative",
                risk=(n % 100) / 100,
                team="frontline",
                classification_source="keyword",
                channel="email",
                created=now - timedelta(days=1 + n % 6, hours=1),
            )
            for n in range(count)
        ],
        batch_size=500,
    )


def _progress(page: Any) -> int:
    return int(page.get_attribute("progress", "value") or 0)


def test_a_lead_starts_last_weeks_run_watches_it_and_reads_the_summary(open_page, agent, celery_worker_process):
    _last_weeks_tickets(900)
    page = open_page(agent)
    page.goto(page.base + "/analysis/")
    first, last = timezone.localdate() - timedelta(days=7), timezone.localdate() - timedelta(days=1)
    assert page.input_value("input[name=first_day]") == str(first)  # last week by default
    assert page.input_value("input[name=last_day]") == str(last)
    page.get_by_role("button", name="Start analysis").click()
    page.wait_for_url(page.base + "/analysis/*/")
    mark_document(page)
    # No worker yet: the run waits, its bar at 0, and the page polls. Every value the bar then shows is recorded
    # (a worker may map all 90 chunks of 10 between two polls, so no intermediate value is guaranteed).
    assert page.locator("progress").is_visible() and _progress(page) == 0
    assert "Waiting for a worker" in page.inner_text(".analysis-run [role=status]")
    page.evaluate(
        "window.__seen = []; new MutationObserver(() => { const p = document.querySelector('progress');"
        " if (p) window.__seen.push(Number(p.value)); }).observe(document.body, {subtree: true, childList: true,"
        " attributes: true})"
    )
    celery_worker_process(concurrency=1, queues="analysis", ANALYSIS_CHUNK_SIZE="10")
    page.get_by_role("heading", name="Summary").wait_for(timeout=120_000)
    assert page.evaluate("window.__noReload") is True  # progress and report came by htmx, no reload
    seen = page.evaluate("window.__seen")
    assert seen == sorted(seen) and all(0 <= value <= 100 for value in seen)  # the bar only ever moved forward

    run = AnalysisRun.objects.get()
    assert run.status == RunStatus.COMPLETED and run.processed == 900
    assert page.locator(".claims li").count() >= 1
    themes = page.locator("table.themes tbody tr[id^=theme-]")
    assert themes.count() >= 3
    assert "no baseline" in themes.first.inner_text()  # no tickets the week before: trends say so
    example = page.locator("table.themes tbody tr[id^=theme-] a").first
    ticket_id = int(example.inner_text().lstrip("#"))
    assert Ticket.objects.filter(pk=ticket_id).exists()
    example.click()
    page.wait_for_url(page.base + f"/tickets/{ticket_id}/")
    assert not page.failed_responses


def test_a_running_run_is_cancelled_from_its_page(open_page, agent, celery_worker_process):
    _last_weeks_tickets(1500)
    celery_worker_process(concurrency=1, queues="analysis", ANALYSIS_CHUNK_SIZE="10")
    page = open_page(agent)
    page.goto(page.base + "/analysis/")
    page.get_by_role("button", name="Start analysis").click()
    page.wait_for_url(page.base + "/analysis/*/")
    run = AnalysisRun.objects.get()
    page.wait_for_function(
        "document.querySelector('progress') && document.querySelector('progress').value > 0", timeout=90_000
    )

    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancelled after").wait_for()
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.processed < 1500
    assert page.locator("progress").count() == 0 and page.locator("button", has_text="Cancel").count() == 0
    # The worker skips the chunks still queued: the run stays cancelled, with no results.
    page.wait_for_timeout(3000)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.results == {}
    assert AnalysisChunk.objects.filter(run=run, done__isnull=True).exists()
