"""The Grafana dashboard: valid JSON, a datasource variable, the rows the issue asks for, and only
metrics the service exports."""

from __future__ import annotations

import pytest

from app.telemetry.metrics import Metrics
from tests.telemetry.promql import dashboard_queries, exported_names, iter_panels, load_dashboard, metric_names

ROWS = ["Throughput", "Outcome mix", "Latency", "Consumer: lag and pending", "Risk", "Exchange",
        "Positions and trading state", "Open orders", "Health"]


def test_every_metric_in_every_expression_is_exported() -> None:
    exported = exported_names(Metrics().render())
    used = {where: metric_names(expr) for where, expr in dashboard_queries()}
    missing = {where: names - exported for where, names in used.items() if names - exported}
    assert missing == {}
    assert all(used.values()), "an expression without any metric"


def test_latency_quantiles_come_from_the_intent_histogram() -> None:
    exprs = [expr for where, expr in dashboard_queries() if "execution_intent_latency_seconds_bucket" in expr]
    assert [e.split(",")[0] for e in exprs] == [f"histogram_quantile({q}" for q in ("0.5", "0.95", "0.99")]


def test_datasource_is_a_prometheus_variable_used_by_every_panel() -> None:
    dashboard = load_dashboard()
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    for panel in iter_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_rows_in_order() -> None:
    rows = [p["title"] for p in load_dashboard()["panels"] if p["type"] == "row"]
    assert rows == ROWS


def test_panels_do_not_overlap_and_ids_are_unique() -> None:
    panels = list(iter_panels(load_dashboard()["panels"]))
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cell = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & cell, panel["title"]
        cells |= cell


@pytest.mark.parametrize("expr, names", [
    ('histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{job=~"$job"}[$__rate_interval])))',
     {"a_bucket"}),
    ('sum(rate(b_total{status!="FILLED"}[5m])) / scalar(sum(rate(b_total[5m]))) > 1e3', {"b_total"}),
    ("max by (job) (c) > 100 and on (job) max by (job) (deriv(d[10m])) > 0", {"c", "d"}),
    ("label_values(execution_build_info, job)", {"execution_build_info"}),
])
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
