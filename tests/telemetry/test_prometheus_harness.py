"""A real Prometheus scrapes the service's metric registry: every dashboard query and alert rule
runs against it. The registry is served by prometheus_client's own HTTP server and fed synthetic
values here; the end-to-end test with the running service uses the same harness."""

from __future__ import annotations

from typing import Iterator

import pytest
from prometheus_client import start_http_server

from app.telemetry.metrics import Metrics
from tests.telemetry.promql import RULES, alert_rules, dashboard_queries, label_values_metric, render
from tests.utils.prometheus import PrometheusError, PrometheusServer


def feed(metrics: Metrics) -> None:
    """One replica's worth of activity touching every metric and label the dashboard reads."""
    metrics.intents_received.inc(5)
    metrics.results.labels("FILLED", "").inc(3)
    metrics.results.labels("REJECTED", "POSITION_LIMIT").inc()
    metrics.results.labels("FAILED", "EXCHANGE_UNAVAILABLE").inc()
    metrics.duplicates.inc()
    metrics.orders.labels("FILLED", "PAPER", "BTCUSDT").inc(3)
    metrics.risk_rejections.labels("POSITION_LIMIT").inc()
    for seconds in (0.002, 0.004, 0.03):
        metrics.intent_latency.observe(seconds)
    metrics.exchange_latency.labels("POST /fapi/v1/order", "ok").observe(0.02)
    metrics.exchange_latency.labels("POST /fapi/v1/order", "unavailable").observe(1.5)
    metrics.consumer_lag.set(4)
    metrics.consumer_pending.set(1)
    metrics.reclaimed.inc()
    metrics.position_notional.labels("BTCUSDT").set(650.0)
    metrics.set_trading_state("ACTIVE")
    metrics.rate_limit_used.set(0.1)
    metrics.open_orders.set(2)
    metrics.oldest_open_order_age.set(42.0)
    metrics.order_fills.labels("BTCUSDT").inc()
    metrics.order_changes.labels("FILLED", "").inc()
    metrics.order_changes.labels("CANCELED", "KILL_SWITCH").inc()
    metrics.time_to_fill.observe(12.5)
    for gauge in (metrics.exchange_up, metrics.redis_up, metrics.consumer_up):
        gauge.set(1)


@pytest.fixture(scope="module")
def prom() -> Iterator[PrometheusServer]:
    metrics = Metrics()
    feed(metrics)
    exporter, _ = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        with PrometheusServer([f"127.0.0.1:{exporter.server_port}"], rule_files=[RULES]) as server:
            # rate() over 1m needs two samples: wait for three scrapes.
            server.wait_for("count_over_time(execution_consumer_up[1m]) >= 3")
            metrics.intents_received.inc(2)
            metrics.dead_letters.inc()
            server.wait_for("count_over_time(execution_consumer_up[1m]) >= 4")
            yield server
    finally:
        exporter.shutdown()
        exporter.server_close()


def test_target_is_scraped_and_queried(prom: PrometheusServer) -> None:
    assert list(prom.targets_health().values()) == ["up"]
    (sample,) = prom.query('execution_position_notional_usd{symbol="BTCUSDT"}')
    assert sample["metric"]["job"] == "execution"
    assert float(sample["value"][1]) == 650.0
    assert float(prom.query("sum(execution_intents_received_total)")[0]["value"][1]) == 7.0


def test_query_errors_are_raised(prom: PrometheusServer) -> None:
    with pytest.raises(PrometheusError, match="bad_data"):
        prom.query("sum(rate(execution_results_total[1m])")


@pytest.mark.parametrize("where, expr", dashboard_queries(), ids=[w for w, _ in dashboard_queries()])
def test_every_dashboard_query_returns_data(prom: PrometheusServer, where: str, expr: str) -> None:
    query = label_values_metric(expr) or render(expr)
    assert prom.query(query), f"{where}: {query}"


def test_every_alert_rule_evaluates_without_error(prom: PrometheusServer) -> None:
    # A dead letter arrived while Prometheus watched: the alert fires here too, as in production.
    prom.wait_for('ALERTS{alertname="ExecutionDeadLetters", alertstate="firing"}')
    rules = {rule["name"]: rule for rule in prom.rules()}
    assert set(rules) == {rule["alert"] for rule in alert_rules()}
    for name, rule in rules.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
    assert rules["ExecutionDeadLetters"]["state"] == "firing"
    assert rules["ExecutionServiceDown"]["state"] == "inactive"
    assert rules["ExecutionServiceAbsent"]["state"] == "inactive"
