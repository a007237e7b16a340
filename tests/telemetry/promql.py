"""The PromQL the chart ships (dashboard panels, alert rules) and the metric names it uses.

Shared by the static checks (names exist in ``Metrics().render()``) and the real-Prometheus checks
(every expression evaluates), so both look at exactly the same expressions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "charts/execution/files/dashboards/execution.json"
RULES = REPO / "charts/execution/files/prometheus-rules.yaml"

# Grafana's variables, replaced by what Grafana would send for a short time range.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m", "${datasource}": "",
                "$job": ".*"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
             "offset", "inf", "nan"}
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expr) for every panel target and query variable, as written in the JSON."""
    dashboard = load_dashboard()
    queries = [(f"panel {p['title']!r} {t['refId']}", t["expr"])
               for p in iter_panels(dashboard["panels"]) for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]
            queries.append((f"variable {var['name']}", query["query"] if isinstance(query, dict) else query))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def render(expr: str) -> str:
    """The expression as Grafana would send it (variables replaced)."""
    for name, value in GRAFANA_VARS.items():
        expr = expr.replace(name, value)
    return expr


def label_values_metric(expr: str) -> str | None:
    """``label_values(metric, label)`` is Grafana's, not PromQL: the series it reads."""
    match = re.fullmatch(r"\s*label_values\((\w+)\s*,\s*\w+\)\s*", expr)
    return match.group(1) if match else None


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside strings, label matchers, label lists,
    ranges, that are not functions or keywords."""
    metric = label_values_metric(expr)
    if metric:
        return {metric}
    text = render(expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LISTS.sub("", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group()
        follows = text[match.end():].lstrip()
        if name.lower() in _KEYWORDS or follows.startswith("("):
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the exponent or unit part of a number, e.g. 1e3
        names.add(name)
    return names


def exported_names(rendered: bytes) -> set[str]:
    """Series names a Prometheus text exposition declares, from its ``# TYPE`` lines, so labelled
    metrics count before their first sample. Histograms add _bucket/_sum/_count."""
    names = set()
    for line in rendered.decode().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            name, kind = parts[2], parts[3]
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names
