"""A real Prometheus scrapes a real service process while intents flow (fills, risk and filter
rejections, duplicates, malformed entries); then every dashboard query and alert rule runs against it."""

from __future__ import annotations

import math
import time
from typing import Any, Iterator

import pytest
import redis

from app.redis_server import LocalRedis
from tests.telemetry.promql import RULES, alert_rules, dashboard_queries, label_values_metric, metric_names, render
from tests.utils.prometheus import PrometheusServer
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, publish_raw, results, wait_results

# With the PAPER venue and no faults, no request fails for a reason other than the order itself.
EMPTY_WITH_PAPER = {"Exchange errors"}
# The waves send no order that rests (MARKET only): none fills or ends later.
EMPTY_WITHOUT_RESTING_ORDERS = {"Fills of open orders by symbol", "Orders ended by status and reason"}
# Alerts that must be quiet on a healthy replica.
QUIET = {"ExecutionServiceDown", "ExecutionServiceAbsent", "ExecutionConsumerStopped", "ExecutionRedisUnavailable",
         "ExecutionExchangeBanned", "ExecutionExchangeUnavailable", "ExecutionTradingHalted",
         "ExecutionOpenOrderTooOld", "ExecutionHaltedWithOpenOrders"}


PER_WAVE = 9


def wave(client: redis.Redis, n: int) -> None:
    """Round ``n`` of every kind of intent; returns once all ``PER_WAVE`` of them are answered."""
    publish(client, intent("BTCUSDT", "BUY", quantity=0.002), intent("BTCUSDT", "SELL", quantity=0.002),
            intent("ETHUSDT", "BUY", quantity=0.05),
            intent("LINKUSDT", "BUY", quantity=1),                       # SYMBOL_NOT_ALLOWED
            intent("BTCUSDT", "BUY", quantity=0.002, leverage=50),       # LEVERAGE_LIMIT
            intent("BTCUSDT", "BUY", quantity=0.00001))                  # EXCHANGE_FILTER
    publish(client, intent("SOLUSDT", "BUY", quantity=1, intent_id=f"twice-{n}"))
    publish_raw(client, {"data": "{not json"})
    wait_results(client, PER_WAVE * n - 1)
    publish(client, intent("SOLUSDT", "BUY", quantity=1, intent_id=f"twice-{n}"))  # answered as a duplicate
    wait_results(client, PER_WAVE * n)


def wait_until_evaluated(server: PrometheusServer, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while (rules := server.rules()) and any(rule["health"] == "unknown" for rule in rules):
        assert time.monotonic() < deadline, [r["name"] for r in rules if r["health"] == "unknown"]
        time.sleep(0.25)
    return rules


@pytest.fixture(scope="module")
def prom(redis_server: LocalRedis) -> Iterator[PrometheusServer]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    service = ServiceProcess(redis_server.url, name="scraped").start()
    try:
        with PrometheusServer([f"127.0.0.1:{service.port}"], rule_files=[RULES]) as server:
            server.wait_for("execution_consumer_up == 1")
            for n in (1, 2):  # the second wave increases series the first one created: rates are > 0
                wave(client, n)
                server.wait_for(f"sum(execution_results_total) + sum(execution_duplicate_intents_total) "
                                f">= {PER_WAVE * n}")
            server.wait_for("execution_position_notional_usd")
            yield server
    finally:
        service.stop()
        client.close()


def test_intents_of_every_kind_were_answered(prom: PrometheusServer, redis_server: LocalRedis) -> None:
    client = redis.Redis.from_url(redis_server.url)
    found = results(client)
    client.close()
    reasons = {(r["status"], r["reason"], r["duplicate"]) for r in found}
    assert reasons >= {("FILLED", None, False), ("FILLED", None, True), ("REJECTED", "SYMBOL_NOT_ALLOWED", False),
                       ("REJECTED", "LEVERAGE_LIMIT", False), ("REJECTED", "EXCHANGE_FILTER", False),
                       ("REJECTED", "INVALID_INTENT", False)}
    assert list(prom.targets_health().values()) == ["up"]


def value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


def test_counters_and_histograms_have_the_flow(prom: PrometheusServer) -> None:
    assert value(prom.query("sum(execution_results_total)")[0]) == 2 * PER_WAVE - 2  # duplicates apart
    assert value(prom.query("sum(execution_intents_received_total)")[0]) == 2 * PER_WAVE
    assert value(prom.query("sum(execution_duplicate_intents_total)")[0]) == 2
    by_reason = {s["metric"]["reason"]: value(s) for s in prom.query("execution_risk_rejections_total")}
    assert by_reason == {"SYMBOL_NOT_ALLOWED": 2, "LEVERAGE_LIMIT": 2}
    outcomes = {(s["metric"]["endpoint"], s["metric"]["outcome"]) for s in
                prom.query("execution_exchange_request_seconds_count")}
    assert outcomes == {("order_create", "ok")}
    assert value(prom.query("execution_intent_latency_seconds_count")[0]) == 2 * PER_WAVE
    assert value(prom.query("sum(execution_exchange_request_seconds_count)")[0]) == 8
    p50 = value(prom.query(render('histogram_quantile(0.5, sum by (le) '
                                  '(rate(execution_intent_latency_seconds_bucket[$__rate_interval])))'))[0])
    assert math.isfinite(p50) and 0 < p50 < 30


QUERIES = dashboard_queries()


@pytest.mark.parametrize("where, expr", QUERIES, ids=[w for w, _ in QUERIES])
def test_every_dashboard_query_answers(prom: PrometheusServer, where: str, expr: str) -> None:
    query = label_values_metric(expr) or render(expr)
    found = prom.query(query)
    if any(f"panel {title!r}" in where for title in EMPTY_WITH_PAPER | EMPTY_WITHOUT_RESTING_ORDERS):
        assert found == [], f"{where}: {query}"
    else:
        assert found, f"{where}: {query}"


@pytest.mark.parametrize("rule", alert_rules(), ids=[r["alert"] for r in alert_rules()])
def test_every_alert_expression_evaluates_on_series_that_exist(prom: PrometheusServer, rule: dict) -> None:
    prom.query(rule["expr"])  # raises on a PromQL error
    for name in metric_names(rule["expr"]):
        assert prom.query(f"count({name})"), f"{rule['alert']}: {name} is not exported"


def test_every_alert_rule_is_healthy_and_the_replica_raises_none(prom: PrometheusServer) -> None:
    rules = {rule["name"]: rule for rule in wait_until_evaluated(prom)}
    assert set(rules) == {rule["alert"] for rule in alert_rules()}
    unhealthy = {name: rule.get("lastError") for name, rule in rules.items() if rule["health"] != "ok"}
    assert unhealthy == {}
    assert {name for name in QUIET if rules[name]["state"] != "inactive"} == set()
