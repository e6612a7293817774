from __future__ import annotations

import pytest

from analysis import reports, services
from analysis.models import AnalysisRun, RunStatus
from analysis.tests.factories import AnalysisRunFactory
from classification.fake_llm import INVENTED_THEME_ID

pytestmark = pytest.mark.django_db


def _completed(published: list, settings) -> AnalysisRun:
    settings.ANALYSIS_CHUNK_SIZE = 10
    run = AnalysisRunFactory.create()
    services.plan_run(run.pk)
    while published:
        step, run_id, index = published.pop(0)
        services.map_chunk(run_id, index) if step == "map" else services.reduce_run(run_id)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    return run


def test_the_llm_writes_the_summary_and_every_claim_cites_ids_that_exist(
    week_of_tickets, published, settings, fake_llm
):
    run = _completed(published, settings)
    summary = run.summary
    assert summary["source"] == "llm" and summary["dropped_claims"] == 0
    theme_ids = {theme["id"] for theme in run.results["themes"]}
    ticket_ids = {ticket.pk for ticket in week_of_tickets}
    assert summary["claims"]
    for claim in summary["claims"]:
        assert set(claim["theme_ids"]) <= theme_ids and set(claim["ticket_ids"]) <= ticket_ids
    assert "<facts>" in fake_llm.state.last_request["messages"][1]["content"]
    assert "refund" not in fake_llm.state.last_request["messages"][1]["content"].split('"label"')[0]  # no ticket text


def test_invented_ids_reject_the_answer_and_the_template_writes_the_page(
    week_of_tickets, published, settings, fake_llm
):
    fake_llm.state.configure({"mode": "invent_ids"})
    run = _completed(published, settings)
    summary = run.summary
    assert summary["source"] == "template" and summary["fallback_reason"] == "invalid_output"
    assert summary["dropped_claims"] > 0
    assert all(INVENTED_THEME_ID not in claim["theme_ids"] for claim in summary["claims"])


def test_one_invented_claim_among_valid_ones_is_dropped(week_of_tickets, published, settings):
    run = _completed(published, settings)
    given = reports.facts(run, run.results)
    theme = given["themes"][0]
    claims = [
        {"text": "real", "theme_ids": [theme["id"]], "ticket_ids": theme["representatives"][:1]},
        {"text": "also real", "theme_ids": [theme["id"]], "ticket_ids": []},
        {"text": "invented", "theme_ids": [], "ticket_ids": [987654321]},
        {"text": "uncited", "theme_ids": [], "ticket_ids": []},
    ]
    kept, dropped = reports.checked_claims(claims, given)
    assert [claim["text"] for claim in kept] == ["real", "also real"] and dropped == 2


@pytest.mark.parametrize("mode", ["error500", "malformed", "off_schema"])
def test_a_failing_llm_leaves_the_template_with_its_reason(week_of_tickets, published, settings, fake_llm, mode):
    fake_llm.state.configure({"mode": mode})
    run = _completed(published, settings)
    assert run.summary["source"] == "template"
    assert run.summary["fallback_reason"] == ("error" if mode == "error500" else "invalid_output")
    assert run.summary["claims"] and all(c["theme_ids"] or c["ticket_ids"] for c in run.summary["claims"])


def test_downloads_carry_the_summary_and_the_themes_with_their_tickets(week_of_tickets, published, settings):
    run = _completed(published, settings)
    text = reports.markdown(run)
    assert text.startswith(f"# Analysis #{run.pk}") and "## Themes" in text and "## Highest risk" in text
    rows = reports.themes_csv(run).splitlines()
    assert rows[0].startswith("theme_id,label")
    assert len(rows) - 1 == sum(len(theme["ticket_ids"]) for theme in run.results["themes"])
