from __future__ import annotations

import pytest

from customers import rules
from customers.rules import Facts, Rules, _ordinal

RULES = Rules(
    vip_floor="high",
    plan_floors={"enterprise": "high", "gold": "critical"},
    repeat_after=3,
    repeat_risk=0.2,
    escalation_team="escalation",
)


@pytest.mark.parametrize(
    ("priority", "facts", "expected"),
    [
        ("low", Facts(vip=True), "high"),
        ("critical", Facts(vip=True), "critical"),  # a floor never lowers
        ("medium", Facts(plan="Enterprise"), "high"),
        ("medium", Facts(plan="free"), "medium"),
        ("medium", Facts(), "medium"),
    ],
)
def test_vip_and_plan_floor_priority(priority: str, facts: Facts, expected: str) -> None:
    assert rules.apply(priority, 0.1, "billing", facts, RULES).priority == expected


def test_a_floor_raising_to_critical_routes_to_escalation_and_says_why() -> None:
    result = rules.apply("medium", 0.1, "billing", Facts(plan="gold"), RULES)
    assert (result.priority, result.team) == ("critical", "escalation")
    assert [c["rule"] for c in result.changes] == ["plan_priority_floor", "critical_routing"]


def test_repeat_contacts_raise_risk_from_the_third_ticket_on() -> None:
    assert rules.apply("low", 0.5, "t", Facts(repeats=1), RULES).risk == 0.5
    third = rules.apply("low", 0.5, "t", Facts(repeats=2), RULES)
    assert third.risk == 0.7
    assert third.changes == [
        {
            "field": "risk",
            "from": 0.5,
            "to": 0.7,
            "rule": "repeat_contact",
            "why": "3 tickets on this category in 30 days",
        }
    ]
    assert rules.apply("low", 0.95, "t", Facts(repeats=5), RULES).risk == 1.0


def test_no_context_changes_nothing() -> None:
    result = rules.apply("medium", 0.3, "billing", Facts(), RULES)
    assert (result.priority, result.risk, result.team, result.changes) == ("medium", 0.3, "billing", [])
    assert rules.sentence(result.changes) == ""


def test_the_rules_read_as_sentences() -> None:
    lines = RULES.describe()
    assert "A VIP customer's ticket is at least high priority." in lines
    assert "A ticket from a customer on the enterprise plan is at least high priority." in lines
    assert any(line.startswith("A customer's 3rd ticket or later") for line in lines)


@pytest.mark.parametrize(
    ("n", "said"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st")],
)
def test_ordinals_are_english(n: int, said: str) -> None:
    assert _ordinal(n) == said
