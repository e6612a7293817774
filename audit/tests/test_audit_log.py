"""The audit log: who did what, recorded where it happens, append-only, readable in admin and the API."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AppendOnly, AuditEntry
from classification.models import Category
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"


@pytest.fixture
def auditor(db):
    return UserFactory.create(username="auditor", permissions=["audit.view_auditentry"])


def _auditor_client(auditor) -> APIClient:
    client = APIClient()
    client.force_authenticate(auditor)
    return client


def test_logins_failed_logins_and_logouts_are_recorded_with_the_address(client, agent):
    client.post("/accounts/login/", {"username": "agent", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    client.post(
        "/accounts/login/", {"username": "agent", "password": "correct-horse-battery"}, REMOTE_ADDR="203.0.113.7"
    )
    client.post("/accounts/logout/")
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "actor_name", "ip"))
    assert entries == [
        ("login_failed", "agent", "203.0.113.7"),
        ("login", "agent", "203.0.113.7"),
        ("logout", "agent", "127.0.0.1"),
    ]
    assert "password" not in str(AuditEntry.objects.get(action="login_failed").detail)


def test_a_correction_and_a_requeue_through_the_api_are_recorded(api_client, agent):
    ticket = TicketFactory.create(classified=True)
    api_client.post(f"/api/v1/tickets/{ticket.pk}/correct/", {"category": "billing"}, format="json")
    api_client.post(f"/api/v1/tickets/{ticket.pk}/reclassify/", {"force": True}, format="json")
    corrected, reclassified = AuditEntry.objects.filter(action__startswith="ticket.").order_by("id")
    assert (corrected.action, corrected.actor, corrected.target) == ("ticket.corrected", agent, f"ticket:{ticket.pk}")
    assert corrected.detail["category"] == "billing"
    assert (reclassified.action, reclassified.target, reclassified.detail["force"]) == (
        "ticket.reclassified",
        f"ticket:{ticket.pk}",
        True,
    )


def test_retry_all_from_the_dashboard_is_one_entry_with_every_id(agent_client, agent):
    failed = TicketFactory.create_batch(3, failed=True)
    agent_client.post("/failed/retry-all/")
    entry = AuditEntry.objects.get(action=Action.TICKET_RETRIED)
    assert (entry.action, entry.actor, entry.target) == ("ticket.retried", agent, "tickets:3")
    assert sorted(entry.detail["ticket_ids"]) == sorted(t.pk for t in failed) and entry.detail["count"] == 3


def test_taxonomy_edits_in_admin_are_recorded(admin_client, admin_user):
    admin_client.post(
        "/admin/classification/category/add/",
        {
            "slug": "shipping",
            "name": "Shipping",
            "team": "logistics",
            "keywords": "parcel",
            "active": "on",
            "position": 9,
            "reply_tone": "friendly",
        },
    )
    entry = AuditEntry.objects.get(action=Action.CATEGORY_CREATED)
    assert (entry.actor, entry.target) == (admin_user, "category:shipping")


def test_token_creation_is_recorded(agent):
    call_command("drf_create_token", "agent", stdout=StringIO())
    assert AuditEntry.objects.filter(action="token.created", target="user:agent").count() == 1


def test_entries_can_be_neither_changed_nor_deleted(agent):
    entry = AuditEntry.objects.create(action=Action.LOGIN, actor=agent, actor_name="agent")
    entry.target = "forged"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.update(target="forged")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().target == ""


def test_admin_shows_entries_read_only(admin_client, agent):
    entry = AuditEntry.objects.create(action=Action.LOGIN, actor=agent, actor_name="agent")
    listing = admin_client.get("/admin/audit/auditentry/")
    assert listing.status_code == 200 and "agent" in listing.content.decode()
    assert admin_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_api_lists_newest_first_and_filters_by_user_action_and_time(auditor, django_assert_max_num_queries):
    AuditEntry.objects.create(action=Action.LOGIN, actor_name="ann")
    AuditEntry.objects.create(action=Action.LOGIN_FAILED, actor_name="bob")
    AuditEntry.objects.create(action=Action.TICKET_CORRECTED, actor_name="ann", target="ticket:1")
    client = _auditor_client(auditor)
    with django_assert_max_num_queries(4):
        everything = client.get(AUDIT).json()["results"]
    assert [e["action"] for e in everything] == ["ticket.corrected", "login_failed", "login"]
    assert [e["action"] for e in client.get(AUDIT, {"user": "ann"}).json()["results"]] == ["ticket.corrected", "login"]
    assert [e["user"] for e in client.get(AUDIT, {"action": "login_failed"}).json()["results"]] == ["bob"]
    future = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert client.get(AUDIT, {"since": future}).json()["results"] == []
    assert client.get(AUDIT, {"action": "nonsense"}).status_code == 400


def test_the_api_needs_the_view_permission(api_client):
    assert APIClient().get(AUDIT).status_code == 401
    assert api_client.get(AUDIT).status_code == 403  # an agent without audit.view_auditentry


@pytest.mark.parametrize(
    ("surface", "action"),
    [
        ("api retry", "ticket.retried"),
        ("dashboard reclassify", "ticket.reclassified"),
        ("dashboard retry", "ticket.retried"),
        ("admin reclassify", "ticket.reclassified"),
        ("admin retry", "ticket.retried"),
    ],
)
def test_reclassify_and_retry_are_recorded_from_every_surface(
    surface, action, api_client, agent, admin_client, admin_user
):
    ticket = TicketFactory.create(failed=True)
    if surface == "api retry":
        api_client.post(f"/api/v1/tickets/{ticket.pk}/retry/")
    elif surface.startswith("dashboard"):
        client = Client()
        client.force_login(agent)
        client.post(f"/tickets/{ticket.pk}/{surface.split()[1]}/")
    else:
        name = "retry_failed" if surface == "admin retry" else "reclassify"
        admin_client.post("/admin/tickets/ticket/", {"action": name, "_selected_action": [ticket.pk]})
    entry = AuditEntry.objects.get(action__startswith="ticket.")
    actor = admin_user if surface.startswith("admin") else agent
    assert (entry.action, entry.actor, entry.target) == (action, actor, f"ticket:{ticket.pk}")


def test_taxonomy_changes_and_deletions_in_admin_are_recorded(admin_client, admin_user):
    billing, general = Category.objects.get(slug="billing"), Category.objects.get(slug="general")
    admin_client.post(
        f"/admin/classification/category/{billing.pk}/change/",
        {
            "slug": "billing",
            "name": "Money",
            "team": billing.team,
            "keywords": "refund",
            "active": "on",
            "position": billing.position,
            "reply_tone": billing.reply_tone,
        },
    )
    admin_client.post(f"/admin/classification/category/{general.pk}/delete/", {"post": "yes"})
    entries = list(AuditEntry.objects.exclude(action="login").order_by("id").values_list("action", "actor", "target"))
    assert entries == [
        ("category.changed", admin_user.pk, "category:billing"),
        ("category.deleted", admin_user.pk, "category:general"),
    ]
    assert "name" in AuditEntry.objects.get(action="category.changed").detail["fields"]


def test_tokens_created_and_deleted_in_admin_are_recorded_with_who_did_it(admin_client, admin_user, agent):
    admin_client.post("/admin/authtoken/tokenproxy/add/", {"user": agent.pk})
    assert Token.objects.filter(user=agent).exists()
    admin_client.post(f"/admin/authtoken/tokenproxy/{agent.pk}/delete/", {"post": "yes"})
    assert not Token.objects.filter(user=agent).exists()
    entries = list(
        AuditEntry.objects.exclude(action="login").order_by("id").values_list("action", "actor", "target", "ip")
    )
    assert entries == [
        ("token.created", admin_user.pk, "user:agent", "127.0.0.1"),
        ("token.deleted", admin_user.pk, "user:agent", "127.0.0.1"),
    ]


def test_the_api_offers_no_way_to_change_or_delete_entries(auditor):
    superuser = UserFactory.create(username="root", is_superuser=True)
    entry = AuditEntry.objects.create(action=Action.LOGIN, actor_name="ann")
    client = _auditor_client(superuser)
    assert client.post(AUDIT, {"action": "login", "user": "mallory"}, format="json").status_code == 405
    assert client.patch(f"{AUDIT}{entry.pk}/", {"target": "forged"}, format="json").status_code == 405
    assert client.put(f"{AUDIT}{entry.pk}/", {"target": "forged"}, format="json").status_code == 405
    assert client.delete(f"{AUDIT}{entry.pk}/").status_code == 405
    assert list(AuditEntry.objects.values_list("actor_name", "target")) == [("ann", "")]


def test_the_api_filters_by_a_time_range(auditor):
    entry = AuditEntry.objects.create(action=Action.LOGIN, actor_name="ann")
    client = _auditor_client(auditor)
    before, after = entry.created - timedelta(seconds=1), entry.created + timedelta(seconds=1)
    assert [
        e["id"] for e in client.get(AUDIT, {"since": before.isoformat(), "until": after.isoformat()}).json()["results"]
    ] == [entry.pk]
    assert client.get(AUDIT, {"until": before.isoformat()}).json()["results"] == []


def test_admin_filters_entries_by_user_action_and_time(admin_client, agent):
    AuditEntry.objects.create(action=Action.LOGIN, actor=agent, actor_name="agent", target="mine")
    AuditEntry.objects.create(action=Action.LOGIN_FAILED, actor_name="mallory", target="theirs")
    listing = admin_client.get("/admin/audit/auditentry/").content.decode()
    assert "By actor" in listing and "By action" in listing and "By created" in listing
    by_user = admin_client.get("/admin/audit/auditentry/", {"actor__id__exact": agent.pk}).content.decode()
    assert "mine" in by_user and "theirs" not in by_user
    typed = admin_client.get("/admin/audit/auditentry/", {"q": "mallory"}).content.decode()  # names no user has
    assert "theirs" in typed and "mine" not in typed
    failed = admin_client.get("/admin/audit/auditentry/", {"action": "login_failed"}).content.decode()
    assert "theirs" in failed and "mine" not in failed
    later = admin_client.get("/admin/audit/auditentry/", {"created__gte": timezone.now() + timedelta(minutes=1)})
    later = later.content.decode()
    assert "mine" not in later and "theirs" not in later
