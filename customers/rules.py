"""The customer rules, read from settings (CUSTOMER_*) and shown to admins on the customers page: pure
functions from a classification's priority, risk and team and a customer's context to the changed values and
the reasons. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

PRIORITY_ORDER = ["low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Rules:
    vip_floor: str
    plan_floors: dict[str, str]
    repeat_after: int
    repeat_risk: float
    escalation_team: str

    @classmethod
    def from_settings(cls) -> Rules:
        return cls(
            vip_floor=settings.CUSTOMER_VIP_PRIORITY_FLOOR,
            plan_floors=dict(settings.CUSTOMER_PLAN_PRIORITY_FLOORS),
            repeat_after=settings.CUSTOMER_REPEAT_CONTACTS,
            repeat_risk=settings.CUSTOMER_REPEAT_RISK_BOOST,
            escalation_team=settings.ESCALATION_TEAM,
        )

    def describe(self) -> list[str]:
        """The rules in words, for the customers page."""
        lines = []
        if self.vip_floor:
            lines.append(f"A VIP customer's ticket is at least {self.vip_floor} priority.")
        for plan, floor in sorted(self.plan_floors.items()):
            lines.append(f"A ticket from a customer on the {plan} plan is at least {floor} priority.")
        if self.repeat_after and self.repeat_risk:
            lines.append(
                f"A customer's {_ordinal(self.repeat_after)} ticket or later on the same category within 30 days "
                f"raises its risk by {self.repeat_risk:g} (at most 1)."
            )
        lines.append(
            f"A ticket raised to critical this way goes to the {self.escalation_team} team, as any critical one."
        )
        return lines


@dataclass(frozen=True)
class Facts:
    """What the rules read of a customer."""

    vip: bool = False
    plan: str = ""
    repeats: int = 0  # their other tickets on the same category in the last 30 days


@dataclass
class Result:
    priority: str
    risk: float
    team: str
    changes: list[dict[str, Any]] = field(default_factory=list)


def _floor(floor: str, rule: str, why: str, result: Result) -> None:
    if floor in PRIORITY_ORDER and PRIORITY_ORDER.index(result.priority) < PRIORITY_ORDER.index(floor):
        result.changes.append({"field": "priority", "from": result.priority, "to": floor, "rule": rule, "why": why})
        result.priority = floor


def apply(priority: str, risk: float, team: str, facts: Facts, rules: Rules) -> Result:
    result = Result(priority=priority, risk=risk, team=team)
    if facts.vip and rules.vip_floor:
        _floor(rules.vip_floor, "vip_priority_floor", "VIP customer", result)
    plan_floor = rules.plan_floors.get(facts.plan.lower()) if facts.plan else None
    if plan_floor:
        _floor(plan_floor, "plan_priority_floor", f"{facts.plan} plan", result)
    if rules.repeat_after and rules.repeat_risk and facts.repeats + 1 >= rules.repeat_after:
        raised = round(min(1.0, result.risk + rules.repeat_risk), 3)
        if raised > result.risk:
            why = f"{facts.repeats + 1} tickets on this category in 30 days"
            result.changes.append(
                {"field": "risk", "from": result.risk, "to": raised, "rule": "repeat_contact", "why": why}
            )
            result.risk = raised
    if result.priority == "critical" and priority != "critical" and team != rules.escalation_team:
        why = "critical tickets go to escalation"
        result.changes.append(
            {"field": "team", "from": team, "to": rules.escalation_team, "rule": "critical_routing", "why": why}
        )
        result.team = rules.escalation_team
    return result


def sentence(changes: list[dict[str, Any]]) -> str:
    """The changes in one sentence, for the classification's reasoning."""
    parts = [f"{c['why']}: {c['field']} {c['from']} → {c['to']}" for c in changes]
    return "Customer context: " + "; ".join(parts) + "." if parts else ""


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
