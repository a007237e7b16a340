"""ServiceMonitor, PrometheusRule (checked by promtool), the Grafana dashboard ConfigMap and KEDA's ScaledObject."""

from __future__ import annotations

import json

import yaml

from tests.chart.rendering import CHART, RELEASE, app_deployment, helm_template, of_kind, one, render, run, tool

OFF_BY_DEFAULT = ("ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication", "NetworkPolicy",
                  "HorizontalPodAutoscaler")


def test_optional_objects_are_off_by_default(defaults) -> None:
    for kind in OFF_BY_DEFAULT:
        assert not of_kind(defaults, kind), kind
    assert not [c for c in of_kind(defaults, "ConfigMap") if c["metadata"]["name"].endswith("-dashboards")]


def test_service_monitor_scrapes_the_app_service(rendered) -> None:
    docs = rendered("everything")
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = one(docs, "Service", f"{RELEASE}-execution")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_prometheus_rule_embeds_the_rules_file_and_promtool_accepts_it(rendered, tmp_path) -> None:
    rule = one(rendered("everything"), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    source = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    assert rule["spec"]["groups"] == source["groups"], "groups must be embedded unchanged (no Helm templating)"
    alerts = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "ExecutionServiceDown" in alerts
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = run([tool("promtool"), "check", "rules", str(rules_file)])
    assert "SUCCESS" in result.stdout


def rule_exprs(groups: list[dict]) -> dict[str, str]:
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def test_open_order_age_alert_takes_its_threshold_from_the_values(tmp_path) -> None:
    """The one templated threshold: the file's default is the chart's, and a set value replaces it."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    source = rule_exprs(yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())["groups"])
    assert source["ExecutionOpenOrderTooOld"].endswith(f"> {values['prometheusRule']['openOrderMaxAgeSeconds']}")
    docs = render("--set", "prometheusRule.enabled=true", "--set", "prometheusRule.openOrderMaxAgeSeconds=900")
    groups = one(docs, "PrometheusRule")["spec"]["groups"]
    exprs = rule_exprs(groups)
    assert exprs.pop("ExecutionOpenOrderTooOld") == "max by (job) (execution_oldest_open_order_age_seconds) > 900"
    assert exprs == {k: v for k, v in source.items() if k != "ExecutionOpenOrderTooOld"}
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}))
    assert "SUCCESS" in run([tool("promtool"), "check", "rules", str(rules_file)]).stdout
    refused = helm_template("--set", "prometheusRule.enabled=true", "--set", "prometheusRule.openOrderMaxAgeSeconds=5",
                            check=False)
    assert refused.returncode != 0 and "openOrderMaxAgeSeconds" in refused.stderr


def test_promtool_would_catch_a_broken_rule(tmp_path) -> None:
    rules_file = tmp_path / "broken.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "up =="}]}]}))
    assert run([tool("promtool"), "check", "rules", str(rules_file)], check=False).returncode != 0


def test_dashboard_configmap_for_the_grafana_sidecar(rendered) -> None:
    dashboards = one(rendered("everything"), "ConfigMap", f"{RELEASE}-execution-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboards["metadata"]["annotations"] == {"grafana_folder": "Trading"}
    files = sorted(p.name for p in (CHART / "files" / "dashboards").glob("*.json"))
    assert sorted(dashboards["data"]) == files
    for name, text in dashboards["data"].items():
        dashboard = json.loads(text)
        assert dashboard["panels"], name
        variables = [v for v in dashboard["templating"]["list"] if v.get("type") == "datasource"]
        assert variables, f"{name}: the datasource must be a dashboard variable"
        assert "execution_intents_received_total" in text


def test_keda_scales_on_the_intent_group_lag(rendered) -> None:
    docs = rendered("everything")
    scaled = one(docs, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == app_deployment(docs)["metadata"]["name"]
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis-streams"
    config = one(docs, "ConfigMap", f"{RELEASE}-execution")["data"]
    assert trigger["metadata"]["stream"] == config["INTENT_STREAM"]
    assert trigger["metadata"]["consumerGroup"] == config["CONSUMER_GROUP"]
    assert trigger["metadata"]["lagCount"] == "50"
    assert trigger["metadata"]["address"] == f"{RELEASE}-execution-redis.trading.svc:6379"
    auth = one(docs, "TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": f"{RELEASE}-execution-redis", "key": "redis-password"}]


def test_keda_follows_renamed_streams_and_needs_an_address_for_external_redis() -> None:
    docs = yaml.safe_load_all(helm_template("--set", "keda.enabled=true", "--set", "config.INTENT_STREAM=intents.v2",
                                            "--set", "config.CONSUMER_GROUP=exec-b").stdout)
    trigger = one([d for d in docs if d], "ScaledObject")["spec"]["triggers"][0]["metadata"]
    assert (trigger["stream"], trigger["consumerGroup"]) == ("intents.v2", "exec-b")
    proc = helm_template("--set", "keda.enabled=true", "--set", "redis.enabled=false",
                         "--set", "externalRedis.url=redis://r:6379/0", check=False)
    assert proc.returncode != 0 and "keda.address" in proc.stderr
