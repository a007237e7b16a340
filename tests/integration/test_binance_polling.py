"""The polling backstop through real service processes in TESTNET against the fake Binance: a resting
order filled or canceled at the venue (not by the service) reaches the books within a few polls (the
user-data stream turned off: tests/integration/test_binance_user_stream.py has it);
one replica polls, another takes over when it is SIGKILLed; an order Binance forgot ends LOST."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

import pytest
import redis

from app.models.intent import client_order_id
from tests.fakes.binance_server import FakeBinance
from tests.reliability.workload import wait_for
from tests.utils.reservations import sides
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

INTERVAL_S = 0.3
OPEN_ORDERS = {"usdm": "/fapi/v1/openOrders", "spot": "/api/v3/openOrders"}


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    with FakeBinance().in_thread() as fake:
        yield fake


def env(fake: FakeBinance, market: str = "usdm", **overrides: Any) -> dict[str, str]:
    return {"execution_mode": "TESTNET", "binance_market": market, "binance_api_key": fake.api_key,
            "binance_api_secret": fake.api_secret, "binance_base_url": fake.url, "binance_futures_base_url": fake.url,
            "order_poll_interval_s": str(INTERVAL_S), "user_stream_enabled": "false",
            **{k: str(v) for k, v in overrides.items()}}


def events(sync: redis.Redis, intent_id: str) -> list[dict[str, Any]]:
    found = [json.loads(f[b"data"]) for _, f in sync.xrange("execution.order")]
    return [e for e in found if e["intent_id"] == intent_id]


def last(sync: redis.Redis, intent_id: str) -> dict[str, Any]:
    return (events(sync, intent_id) or [{}])[-1]


def position(sync: redis.Redis) -> float:
    return float(sync.hget("exec:position:BTCUSDT", "qty") or 0)


def reserved(sync: redis.Redis) -> float:
    """What the resting BUY orders of BTCUSDT hold (the orders here are BUYs)."""
    return sides(sync.hgetall("exec:risk:reserved"))[0]


def resting(sync: redis.Redis, quantity: float = 0.01) -> str:
    """A LIMIT BUY below the fake's market (65,000): it rests; its client order id."""
    body = intent("BTCUSDT", "BUY", quantity=quantity, order_type="LIMIT", price=60_000)
    publish(sync, body)
    [result] = [r for r in wait_results(sync, len(sync.xrange("execution.result")) + 1, timeout=30)
                if r["intent_id"] == body["intent_id"]]
    assert (result["status"], result["reason"]) == ("NEW", "ORDER_OPEN"), result
    return body["intent_id"]


def gauge(service: ServiceProcess, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", service.get("/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("market", ["usdm", "spot"])
def test_a_partial_fill_then_the_rest_at_the_venue_move_the_position(services, sync, binance: FakeBinance,
                                                                     market: str) -> None:
    services("r0", **env(binance, market))
    intent_id = resting(sync)
    coid = client_order_id(intent_id)
    binance.exchange.fill(coid, "0.004")
    started = wait_for(lambda: last(sync, intent_id).get("status") == "PARTIALLY_FILLED", "the partial fill", 30)
    assert position(sync) == pytest.approx(0.004) and reserved(sync) == pytest.approx(0.006)
    binance.exchange.fill(coid)
    done = wait_for(lambda: last(sync, intent_id).get("status") == "FILLED", "the rest", 30)
    assert done - started < 10 * INTERVAL_S + 5
    time.sleep(3 * INTERVAL_S)  # later polls book nothing more
    trail = events(sync, intent_id)
    order_id = binance.orders_for(coid)[0].order_id
    assert [(e["status"], e["last_fill_quantity"], e["trade_id"]) for e in trail] == [
        ("NEW", None, None), ("PARTIALLY_FILLED", 0.004, f"{order_id}:0.004"), ("FILLED", 0.006, f"{order_id}:0.01")]
    assert position(sync) == pytest.approx(0.01) and reserved(sync) == 0.0


def test_a_cancel_made_at_the_venue_is_noticed_and_releases_the_reservation(services, sync,
                                                                             binance: FakeBinance) -> None:
    services("r0", **env(binance))
    intent_id = resting(sync)
    binance.exchange.cancel_elsewhere(client_order_id(intent_id))
    wait_for(lambda: last(sync, intent_id).get("status") == "CANCELED", "the cancel noticed", 30)
    assert (last(sync, intent_id)["reason"], reserved(sync), sync.zcard("exec:open")) == ("VENUE", 0.0, 0)


def test_one_replica_polls_and_another_takes_over_when_it_is_killed(services, sync, binance: FakeBinance) -> None:
    replicas = {name: services(name, **env(binance)) for name in ("r0", "r1")}
    first = resting(sync, 0.002)
    wait_for(lambda: sync.get("exec:binance:poll_lease") is not None, "a poller", 30)
    time.sleep(1.0)
    binance.requests.clear()
    time.sleep(3.0)
    polls = binance.sent("GET", OPEN_ORDERS["usdm"])
    assert 3.0 / INTERVAL_S / 2 <= len(polls) <= 3.0 / INTERVAL_S + 2, "one poller, once an interval"
    assert all(r.weight == 1 and r.params["symbol"] == "BTCUSDT" for r in polls)
    holder = sync.get("exec:binance:poll_lease").decode().split(":")[0]
    assert [gauge(s, "execution_order_poller") for s in replicas.values()].count(1.0) == 1
    replicas[holder].kill()
    killed = time.monotonic()
    survivor = next(name for name in replicas if name != holder)
    taken = wait_for(lambda: (sync.get("exec:binance:poll_lease") or b"").decode().startswith(survivor + ":"),
                     "the take-over", 30)
    assert taken - killed < 10, "taken over within seconds"
    binance.exchange.fill(client_order_id(first))
    wait_for(lambda: last(sync, first).get("status") == "FILLED", "the fill booked by the survivor", 30)
    assert gauge(replicas[survivor], "execution_order_poller") == 1.0


def test_an_order_binance_forgot_is_lost_after_n_lookups(services, sync, binance: FakeBinance) -> None:
    service = services("r0", **env(binance, order_lost_after_lookups=3))
    intent_id = resting(sync)
    binance.exchange.forget(client_order_id(intent_id))
    wait_for(lambda: last(sync, intent_id).get("status") == "EXPIRED", "the order marked lost", 30)
    assert last(sync, intent_id)["reason"] == "LOST" and reserved(sync) == 0.0
    lookups = [r for r in binance.sent("GET", "/fapi/v1/order") if r.params.get("origClientOrderId")
               == client_order_id(intent_id)]
    assert len(lookups) == 3 and all(r.code == -2013 for r in lookups)
    assert gauge(service, "execution_orders_lost_total") == 1.0
    assert "marked EXPIRED LOST" in service.logs()
