"""The alert rules pass `promtool check rules`, and each alert's promtool unit test passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from app.telemetry.metrics import Metrics
from tests.telemetry.promql import RULES, alert_rules, exported_names, metric_names
from tests.utils.prometheus import tool

UNIT_TESTS = sorted((Path(__file__).parent / "rules").glob("*.test.yaml"))
# Series Prometheus itself makes for every scrape target.
SCRAPE_SERIES = {"up"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_unit_test(unit_test: Path) -> None:
    done = promtool("test", "rules", unit_test)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def alert_cases(unit_test: Path) -> list[dict]:
    spec = yaml.safe_load(unit_test.read_text())
    return [case for test in spec["tests"] for case in test.get("alert_rule_test", [])]


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    cases = [case for unit_test in UNIT_TESTS for case in alert_cases(unit_test)]
    assert all(alert_cases(unit_test) for unit_test in UNIT_TESTS)
    names = {rule["alert"] for rule in alert_rules()}
    assert names - {c["alertname"] for c in cases if c.get("exp_alerts")} == set(), "alerts no test fires"
    assert names - {c["alertname"] for c in cases if not c.get("exp_alerts")} == set(), "alerts never quiet"


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


def test_alerts_use_only_metrics_the_service_exports() -> None:
    exported = exported_names(Metrics().render()) | SCRAPE_SERIES
    for rule in alert_rules():
        assert metric_names(rule["expr"]) <= exported, rule["alert"]


def test_scrape_alerts_select_the_execution_job() -> None:
    up_rules = [rule for rule in alert_rules() if "up" in metric_names(rule["expr"])]
    assert {rule["alert"] for rule in up_rules} == {"ExecutionServiceDown", "ExecutionServiceAbsent"}
    for rule in up_rules:
        assert 'up{job=~".*execution.*"}' in rule["expr"]
