"""The list as an agent works it: the default view leaves resolved tickets out, the working-state,
assignee, team and SLA filters, the due sort, search over the customer, and the new-arrivals bar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tickets import workflow
from tickets.models import WorkState
from tickets.tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _subjects(client, query: str) -> set[str]:
    response = client.get(f"/tickets/?{query}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    return {ticket.subject for ticket in response.context["page"].rows}


@pytest.fixture
def shift(agent):
    """Tickets in every working state, held by the agent, a colleague or nobody, due at various times."""
    now = timezone.now()
    ann = UserFactory.create(username="ann", permissions=["tickets.change_ticket"])
    TicketFactory.create(subject="mine overdue", assignee=agent, team="billing", due_at=now - timedelta(hours=2))
    TicketFactory.create(subject="ann soon", assignee=ann, team="billing", due_at=now + timedelta(minutes=30))
    TicketFactory.create(subject="nobody billing", team="billing", due_at=now + timedelta(hours=3))
    TicketFactory.create(subject="nobody tech", team="tech-support", due_at=now + timedelta(hours=20))
    TicketFactory.create(subject="pending", state=WorkState.PENDING, team="billing", due_at=now - timedelta(hours=1))
    TicketFactory.create(subject="resolved", state=WorkState.RESOLVED, assignee=agent, due_at=now - timedelta(days=1))
    return ann


def test_the_default_view_shows_open_and_pending_and_state_chooses(agent_client, shift):
    assert "resolved" not in _subjects(agent_client, "")
    assert _subjects(agent_client, "state=resolved") == {"resolved"}
    assert _subjects(agent_client, "state=pending") == {"pending"}
    assert len(_subjects(agent_client, "state=")) == 6  # every state


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("assignee=me", {"mine overdue"}),
        ("assignee=me&state=", {"mine overdue", "resolved"}),
        ("assignee=ann", {"ann soon"}),
        ("assignee=none", {"nobody billing", "nobody tech", "pending"}),
        ("assignee=none&team=mine", {"nobody billing", "pending"}),
        ("due=overdue", {"mine overdue", "pending"}),  # a resolved ticket is never overdue
        ("due=1h", {"ann soon"}),
        ("due=4h", {"ann soon", "nobody billing"}),
        ("due=24h", {"ann soon", "nobody billing", "nobody tech"}),
    ],
)
def test_assignee_team_and_due_filters(agent_client, agent, shift, query, expected):
    workflow.set_team(agent, "billing")
    assert _subjects(agent_client, query) == expected


def test_my_team_without_a_team_shows_nothing_rather_than_everything(agent_client, shift):
    assert _subjects(agent_client, "team=mine") == set()


def test_sorting_by_due_puts_the_most_overdue_first_and_undated_last(agent_client, shift):
    TicketFactory.create(subject="not classified yet")
    rows = agent_client.get("/tickets/?sort=due").context["page"].rows
    assert [t.subject for t in rows] == [
        "mine overdue",
        "pending",
        "ann soon",
        "nobody billing",
        "nobody tech",
        "not classified yet",
    ]


def test_overdue_rows_are_flagged_and_due_soon_ones_warned(agent_client, shift):
    html = agent_client.get("/tickets/").content.decode()
    assert html.count('class="sla sla-overdue"') == 2 and "Overdue 2 h" in html
    assert 'class="sla sla-soon"' in html and ("Due in 30 min" in html or "Due in 29 min" in html)


def test_search_matches_the_customers_name_and_email_and_highlights_it(agent_client):
    TicketFactory.create(subject="Invoice", customer_name="Maya Okafor", customer_email="maya@shop.example")
    TicketFactory.create(subject="Other", customer_name="Sam Rossi", customer_email="sam@example.com")
    assert _subjects(agent_client, "search=okafor") == {"Invoice"}
    assert _subjects(agent_client, "search=SHOP.example") == {"Invoice"}
    html = agent_client.get("/tickets/?search=okafor").content.decode()
    assert "Maya <mark>Okafor</mark>" in html


def test_highlighting_escapes_the_text_around_the_term(agent_client):
    TicketFactory.create(subject="<b>refund</b> now", body="")
    html = agent_client.get("/tickets/?search=refund").content.decode()
    assert "&lt;b&gt;<mark>refund</mark>&lt;/b&gt; now" in html


def test_new_arrivals_are_counted_for_the_lists_filters(agent_client):
    first = TicketFactory.create(category="billing")
    TicketFactory.create(category="billing")
    TicketFactory.create(category="technical")
    bar = agent_client.get(f"/tickets/arrivals/?after={first.pk}&category=billing", HTTP_HX_REQUEST="true")
    html = bar.content.decode()
    assert bar.status_code == 200 and "1 new ticket — show it" in html
    assert f'hx-get="/tickets/arrivals/?after={first.pk}&amp;category=billing"' in html  # keeps polling
    nothing = agent_client.get(f"/tickets/arrivals/?after={first.pk + 2}").content.decode()
    assert "new ticket" not in nothing and 'id="arrivals"' in nothing


def test_the_list_remembers_the_highest_id_for_the_arrivals_bar(agent_client):
    last = TicketFactory.create_batch(3)[-1]
    html = agent_client.get("/tickets/").content.decode()
    assert f"/tickets/arrivals/?after={last.pk}" in html


def test_arrivals_refuse_bad_input_anonymous_and_outsiders(client, outsider, agent_client):
    assert agent_client.get("/tickets/arrivals/?after=x").status_code == 400
    assert agent_client.get("/tickets/arrivals/?after=1&priority=soon").status_code == 400
    assert client.get("/tickets/arrivals/?after=1").status_code == 302
    client.force_login(outsider)
    assert client.get("/tickets/arrivals/?after=1").status_code == 403


def test_the_built_in_views_and_the_current_one_are_shown(agent_client, shift):
    html = agent_client.get("/tickets/?assignee=me").content.decode()
    assert 'href="/tickets/?assignee=none&amp;team=mine">Unassigned in my team</a>' in html
    assert 'class="chip current" href="/tickets/?assignee=me" aria-current="page">Mine</a>' in html


def test_the_secondary_filters_unfold_when_one_of_them_is_set(agent_client):
    folded = agent_client.get("/tickets/").content.decode()
    unfolded = agent_client.get("/tickets/?sentiment=negative&channel=email").content.decode()
    assert '<details class="more-filters">' in folded
    assert '<details class="more-filters" open>' in unfolded and "More filters (2 set)" in unfolded


def test_a_former_agents_tickets_stay_findable_and_theirs(agent_client):
    bob = UserFactory.create(username="bob", first_name="Bob", permissions=["tickets.change_ticket"])
    ticket = TicketFactory.create(subject="Bob's", assignee=bob)
    bob.is_active = False
    bob.save()
    assert _subjects(agent_client, "assignee=bob") == {"Bob's"}
    assert "Bob (no longer an agent)" in agent_client.get("/tickets/?assignee=bob").content.decode()
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<option value="bob" selected>Bob (no longer an agent)</option>' in page
    agent_client.post(f"/tickets/{ticket.pk}/assign/", {"assignee": "bob"})  # keeping it changes nothing
    ticket.refresh_from_db()
    assert ticket.assignee == bob
    assert agent_client.get("/tickets/?assignee=nobody-at-all").status_code == 400


def test_my_team_without_a_team_says_where_to_choose_one(agent_client):
    html = agent_client.get("/tickets/?assignee=none&team=mine").content.decode()
    assert "You have no team yet" in html and 'href="/me/"' in html


def test_the_address_bar_gets_the_filters_in_one_spelling(agent_client):
    response = agent_client.get(
        "/tickets/?search=&state=active&assignee=&due=&category=billing&sort=newest&page=2", HTTP_HX_REQUEST="true"
    )
    assert response["HX-Push-Url"] == "/tickets/?category=billing&page=2"


def test_the_way_back_from_a_ticket_is_the_last_list_seen(agent_client):
    ticket = TicketFactory.create()
    agent_client.get("/tickets/?priority=high&sort=due")
    html = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<a href="/tickets/?priority=high&amp;sort=due">← Tickets</a>' in html


def test_a_match_in_the_body_shows_the_passage_around_it(agent_client):
    body = "Hello. " + "Some context here. " * 10 + "My REFUND for order 7 never came. " + "More text. " * 20
    TicketFactory.create(subject="Where is my money", body=body)
    TicketFactory.create(subject="Refund in the subject", body="nothing else")
    html = agent_client.get("/tickets/?search=refund").content.decode()
    assert '<span class="snippet">…' in html and "My <mark>REFUND</mark> for order 7 never came." in html
    assert html.count('class="snippet"') == 1  # a subject-only match shows no passage
