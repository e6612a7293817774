from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed", *args, stdout=out)
    return out.getvalue()


def test_seed_makes_varied_realistic_tickets_and_enqueues_them(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        output = _seed("--count", "40", "--seed", "7")
    tickets = list(Ticket.objects.all())
    assert len(tickets) == 40
    assert all(t.status == Status.QUEUED for t in tickets)
    assert len({t.subject for t in tickets}) > 15  # varied, not one line repeated
    assert not any("lorem" in t.body.lower() for t in tickets)
    assert len(callbacks) == 1
    assert "Made 40 tickets" in output


def test_seed_creates_a_demo_login_once_and_prints_it():
    first = _seed("--count", "0")
    second = _seed("--count", "0")
    user = get_user_model().objects.get(username="demo")
    password = first.split("password '")[1].split("'")[0]
    assert user.check_password(password)
    assert user.has_perm("tickets.view_ticket")
    assert "Demo login exists" in second


def test_seed_is_reproducible_with_a_seed():
    _seed("--count", "5", "--seed", "3", "--no-classify")
    first = list(Ticket.objects.order_by("id").values_list("subject", "body"))
    _seed("--count", "5", "--seed", "3", "--no-classify", "--clear")
    assert list(Ticket.objects.order_by("id").values_list("subject", "body")) == first


def test_no_classify_enqueues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        _seed("--count", "3", "--no-classify")
    assert callbacks == []
    assert Ticket.objects.count() == 3


def test_if_empty_leaves_an_existing_database_alone():
    _seed("--count", "2", "--no-classify")
    output = _seed("--count", "10", "--if-empty")
    assert Ticket.objects.count() == 2
    assert "not seeding" in output


def test_seed_keeps_the_demo_password_for_make_runs_announcement_in_debug_only(settings, tmp_path):
    settings.DEMO_PASSWORD_FILE = tmp_path / "demo-password"
    settings.DEBUG = False
    _seed("--count", "0")
    assert not settings.DEMO_PASSWORD_FILE.exists()  # production keeps no password anywhere

    get_user_model().objects.filter(username="demo").delete()
    settings.DEBUG = True
    output = _seed("--count", "0")
    kept = settings.DEMO_PASSWORD_FILE.read_text().strip()
    assert f"password '{kept}'" in output
    assert get_user_model().objects.get(username="demo").check_password(kept)
    assert settings.DEMO_PASSWORD_FILE.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_seed_shows_a_shift_in_progress_with_colleagues_teams_states_and_assignees():
    _seed("--count", "60", "--seed", "5")
    from tickets import workflow

    demo = get_user_model().objects.get(username="demo")
    assert workflow.team_of(demo) == "billing"
    assert {u.username for u in workflow.agents()} >= {"demo", "ann", "ben"}
    assert not get_user_model().objects.get(username="ann").has_usable_password()  # nobody logs in as them
    states = set(Ticket.objects.values_list("state", flat=True))
    assert states == {"open", "pending", "resolved"}
    assert Ticket.objects.filter(assignee__isnull=False).exists() and Ticket.objects.filter(assignee=None).exists()
    assert not Ticket.objects.exclude(state="open").filter(state_changed=None).exists()


def test_seed_loads_the_demo_knowledge_base_once():
    from knowledge.models import Article
    from knowledge.retrieval import search

    assert "demo articles added" in _seed("--count", "0")
    count = Article.objects.count()
    assert count >= 5 and Article.objects.filter(tags=["demo"], published=True).count() == count
    assert "Demo knowledge base exists." in _seed("--count", "0")
    assert Article.objects.count() == count
    assert search("I lost my phone with the two-factor codes")[0].chunk.article.source_name == "demo/login-and-2fa.md"
