from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analysis.models import AnalysisRun, RunStatus

pytestmark = pytest.mark.django_db


def test_analyze_inline_runs_every_step_and_prints_the_themes(week_of_tickets, published):
    out = StringIO()
    today = timezone.localdate()
    call_command("analyze", "--since", str(today - timedelta(days=6)), "--until", str(today), "--inline", stdout=out)
    run = AnalysisRun.objects.get()
    assert run.status == RunStatus.COMPLETED and run.trigger == "command"
    assert "completed: 30 tickets" in out.getvalue()
    assert published == []  # nothing went to the broker


def test_analyze_without_inline_publishes_the_plan(db, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("analyze", "--category", "billing", stdout=StringIO())
    run = AnalysisRun.objects.get()
    assert run.filters == {"category": "billing"} and published == [("plan", run.pk, None)]


def test_analyze_refuses_a_period_that_ends_before_it_starts(db, published):
    with pytest.raises(CommandError, match="before"):
        call_command("analyze", "--since", "2026-02-02", "--until", "2026-02-01", stdout=StringIO())
    assert not AnalysisRun.objects.exists()
