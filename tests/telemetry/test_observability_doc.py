"""docs/observability.md names every metric, alert and dashboard row the service ships."""

from __future__ import annotations

from app.telemetry.metrics import Metrics
from tests.telemetry.promql import REPO, alert_rules, load_dashboard

DOC = (REPO / "docs/observability.md").read_text()


def metric_families() -> set[str]:
    lines = Metrics().render().decode().splitlines()
    return {line.split()[2] for line in lines
            if line.startswith("# TYPE") and not line.split()[2].endswith("_created")}


def test_every_metric_is_documented() -> None:
    assert {name for name in metric_families() if f"`{name}`" not in DOC} == set()


def test_every_alert_is_documented() -> None:
    assert {rule["alert"] for rule in alert_rules() if f"| {rule['alert']} |" not in DOC} == set()


def test_every_dashboard_row_is_documented() -> None:
    rows = [p["title"] for p in load_dashboard()["panels"] if p["type"] == "row"]
    assert [row for row in rows if f"| {row} |" not in DOC] == []
