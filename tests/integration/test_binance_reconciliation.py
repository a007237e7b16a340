"""Reconciliation through real service processes in TESTNET (USD-M) against the fake Binance: an
order placed by another client shows as external and the position follows; a liquidation the service
was not told of turns /health DEGRADED on every replica and, with RECONCILE_ON_DRIFT=halt, HALTED;
one replica reconciles, each round costs the documented weight (openOrders 40 + positionRisk 5)."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import redis

from tests.fakes.binance_server import FakeBinance
from tests.reliability.workload import wait_for
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

INTERVAL_S = 5
ROUND_WEIGHT = 40 + 5  # GET /fapi/v1/openOrders without a symbol + GET /fapi/v3/positionRisk


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    with FakeBinance().in_thread() as fake:
        yield fake


def env(fake: FakeBinance, **overrides: Any) -> dict[str, str]:
    return {"execution_mode": "TESTNET", "binance_market": "usdm", "binance_api_key": fake.api_key,
            "binance_api_secret": fake.api_secret, "binance_base_url": fake.url, "binance_futures_base_url": fake.url,
            "reconcile_interval_s": str(INTERVAL_S), **{k: str(v) for k, v in overrides.items()}}


def position(sync: redis.Redis) -> float:
    return float(sync.hget("exec:position:BTCUSDT", "qty") or 0)


def component(service: ServiceProcess) -> dict[str, Any]:
    return next(c for c in service.get("/health").json()["components"] if c["name"] == "reconciliation")


def rounds(fake: FakeBinance) -> int:
    return len(fake.sent("GET", "/fapi/v3/positionRisk"))


def test_an_order_placed_by_another_client_is_external_and_the_position_follows(services, sync,
                                                                                  binance: FakeBinance) -> None:
    service = services("r0", **env(binance))
    wait_for(lambda: rounds(binance) >= 1, "the start-up round", 30)
    assert component(service)["status"] == "OK"
    binance.exchange.place_elsewhere("usdm", "BTCUSDT", "BUY", "0.010")
    binance.exchange.place_elsewhere("usdm", "ETHUSDT", "SELL", "0.5", price="3600", client_order_id="web_resting")
    wait_for(lambda: position(sync) == pytest.approx(0.01), "the position following Binance", 3 * INTERVAL_S)
    [trade] = service.get("/trades").json()["trades"]
    assert trade["external"] is True and (trade["symbol"], trade["side"], trade["quantity"]) == ("BTCUSDT", "BUY", 0.01)
    health = component(service)
    assert health["status"] == "DEGRADED" and "web_resting (other) SELL 0.5 ETHUSDT" in health["message"]
    assert sync.get("exec:risk:trading_state") in (None, b"ACTIVE"), "RECONCILE_ON_DRIFT=alert changes nothing"
    positions = {p["symbol"]: p["qty"] for p in service.get("/positions").json()["positions"]}
    assert positions["BTCUSDT"] == pytest.approx(0.01)


def test_a_liquidation_turns_health_degraded_everywhere_and_halts(services, sync, binance: FakeBinance) -> None:
    first = services("r0", **env(binance, reconcile_on_drift="halt"))
    second = services("r1", **env(binance, reconcile_on_drift="halt"))
    body = intent("BTCUSDT", "BUY", quantity=0.01)
    publish(sync, body)
    [result] = [r for r in wait_results(sync, 1, timeout=30) if r["intent_id"] == body["intent_id"]]
    assert result["status"] == "FILLED" and position(sync) == pytest.approx(0.01)
    wait_for(lambda: rounds(binance) >= 1, "a round", 30)
    binance.exchange.liquidate("BTCUSDT")
    wait_for(lambda: sync.get("exec:risk:trading_state") == b"HALTED", "the trading state HALTED", 3 * INTERVAL_S)
    assert position(sync) == 0
    for service in (first, second):
        health = component(service)
        assert health["status"] == "DEGRADED" and "BTCUSDT booked 0.01 Binance 0" in health["message"]
        assert service.get("/health").json()["status"] == "DEGRADED"
    refused = intent("BTCUSDT", "BUY", quantity=0.01)
    publish(sync, refused)
    [answer] = [r for r in wait_results(sync, 2, timeout=30) if r["intent_id"] == refused["intent_id"]]
    assert answer["status"] == "REJECTED"


def test_one_replica_reconciles_within_its_weight(services, sync, binance: FakeBinance) -> None:
    started = time.monotonic()
    services("r0", **env(binance))
    services("r1", **env(binance))
    wait_for(lambda: rounds(binance) >= 3, "three rounds", 5 * INTERVAL_S)
    elapsed = time.monotonic() - started
    assert rounds(binance) <= elapsed / INTERVAL_S + 1, "one reconciler, not one per replica"
    every = [r for r in binance.sent("GET", "/fapi/v1/openOrders") if "symbol" not in r.params]
    risk = binance.sent("GET", "/fapi/v3/positionRisk")
    assert {r.weight for r in every} == {40} and {r.weight for r in risk} == {5}
    assert sum(r.weight for r in every + risk) == ROUND_WEIGHT * len(risk)
    assert not binance.requests_in_windows()
