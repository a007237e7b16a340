"""NetworkPolicy: ingress only from Prometheus and the release's own pods; egress only to Redis, DNS and the
exchange (plus what the user adds)."""

from __future__ import annotations

from tests.chart.rendering import RELEASE, app_deployment, one


def _policy(docs: list[dict], name: str) -> dict:
    return one(docs, "NetworkPolicy", name)["spec"]


def test_app_ingress_from_prometheus_and_same_release_only(rendered) -> None:
    docs = rendered("everything")
    spec = _policy(docs, f"{RELEASE}-execution")
    assert spec["podSelector"]["matchLabels"] == app_deployment(docs)["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    same_release, prometheus = rule["from"]
    assert same_release == {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}}}
    assert prometheus["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert prometheus["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}


def test_app_egress_to_dns_redis_exchange_and_extra(rendered) -> None:
    docs = rendered("everything")
    dns, redis, exchange, extra = _policy(docs, f"{RELEASE}-execution")["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    redis_labels = one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"]
    assert redis["to"] == [{"podSelector": {"matchLabels": redis_labels}}]
    assert redis["ports"] == [{"port": 6379, "protocol": "TCP"}]
    assert exchange["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert extra["ports"] == [{"port": 4318, "protocol": "TCP"}]


def test_bundled_redis_accepts_the_release_and_keda(rendered) -> None:
    docs = rendered("everything")
    spec = _policy(docs, f"{RELEASE}-execution-redis")
    assert spec["podSelector"]["matchLabels"] == one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"]
    sources = spec["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}}} in sources
    assert {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "keda-operator"}}} in sources


def test_external_redis_egress_uses_the_given_cidrs(rendered) -> None:
    docs = rendered("external-redis")
    egress = _policy(docs, f"{RELEASE}-execution")["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 6379, "protocol": "TCP"}]} in egress
    assert len([d for d in docs if d["kind"] == "NetworkPolicy"]) == 1
