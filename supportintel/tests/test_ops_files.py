"""The alert rules and the Grafana dashboard in ops/ name only metrics that /metrics exports (promtool
itself checks the rules' syntax and behaviour in CI: `promtool check rules`, `promtool test rules`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

OPS = ROOT / "ops"
_METRIC = re.compile(r"\bsupportintel_[a-z_]+\b")


def _exported(client) -> set[str]:
    """Sample names, and every family's name from its TYPE line (a family may have no sample yet)."""
    text = client.get("/metrics").content.decode()
    samples = {line.split()[0].split("{")[0] for line in text.splitlines() if line and not line.startswith("#")}
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    return samples | families


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((OPS / "grafana" / "supportintel.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.mark.django_db
def test_every_metric_the_alerts_and_the_dashboard_name_is_exported(admin_client):
    exported = _exported(admin_client)
    named = {name for expr in [*_rule_expressions(), *_dashboard_expressions()] for name in _METRIC.findall(expr)}
    assert len(named) >= 10  # the scan found the names: an empty set would pass vacuously
    assert sorted(named - exported) == []


def test_the_alerts_cover_what_an_operator_is_woken_for():
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert alerts == {
        "SupportIntelLLMBreakerOpen",
        "SupportIntelLLMFallbackBreakerOpen",
        "SupportIntelQueueGrowing",
        "SupportIntelNoLiveWorker",
        "SupportIntelFailedTickets",
        "SupportIntelLLMOverBudget",
    }


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) runs in .ci/run")
def test_promtool_accepts_and_unit_tests_the_rules():
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(["promtool", *command], cwd=OPS / "prometheus", capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
