"""The user-data stream through real service processes in TESTNET against the fake Binance (USD-M):
a resting order filled at the venue is booked from the stream (polling slowed so it cannot be the
one: the fills carry Binance's trade ids and commissions, not polling's ``<orderId>:<cumulative>``);
duplicated and out-of-order events are booked once; the holder SIGKILLed, another replica takes the
stream over within seconds and what filled meanwhile is caught up, nothing booked twice or missed."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from app.models.intent import client_order_id
from tests.fakes.binance_exchange import USDM
from tests.fakes.binance_server import FakeBinance
from tests.integration.test_binance_polling import binance, env, events, gauge, last, position, reserved, resting
from tests.reliability.workload import wait_for

__all__ = ["binance"]
SLOW_POLL_S = 60  # one catch-up round at start, then none within a test: every later change is the stream's
LIVE, LEASE = "exec:binance:stream_live", "exec:binance:stream_lease"


def stream_env(fake: FakeBinance, **overrides: Any) -> dict[str, str]:
    return env(fake, **{"order_poll_interval_s": SLOW_POLL_S, "user_stream_enabled": "true", **overrides})


def live(sync: redis.Redis) -> float:
    return wait_for(lambda: sync.get(LIVE) is not None, "the stream live", 30)


def fills(sync: redis.Redis, intent_id: str) -> list[tuple[str, float]]:
    return [(e["trade_id"], e["last_fill_quantity"]) for e in events(sync, intent_id) if e["trade_id"]]


def trade_ids(fake: FakeBinance, coid: str) -> list[str]:
    return [str(t["id"]) for t in fake.orders_for(coid)[0].trades]


def test_a_resting_order_filled_at_the_venue_is_booked_from_the_stream(services, sync, binance: FakeBinance) -> None:
    service = services("r0", **stream_env(binance))
    live(sync)
    intent_id = resting(sync)
    coid = client_order_id(intent_id)
    binance.exchange.fill(coid, "0.004")
    wait_for(lambda: last(sync, intent_id).get("status") == "PARTIALLY_FILLED", "the partial fill", 10)
    assert position(sync) == pytest.approx(0.004) and reserved(sync) == pytest.approx(0.006)
    binance.exchange.fill(coid)
    wait_for(lambda: last(sync, intent_id).get("status") == "FILLED", "the rest", 10)
    assert fills(sync, intent_id) == list(zip(trade_ids(binance, coid), (0.004, 0.006)))
    commission = float(sum(t["commission"] for t in binance.orders_for(coid)[0].trades))
    assert commission > 0 and last(sync, intent_id)["fee"] == pytest.approx(commission)
    assert last(sync, intent_id)["fee_asset"] == "USDT"
    assert position(sync) == pytest.approx(0.01) and reserved(sync) == 0.0
    assert len(binance.sent("GET", "/fapi/v1/openOrders")) <= 1, "polling rested while the stream was live"
    assert gauge(service, "execution_user_stream_holder") == 1.0
    assert len(binance.sent("POST", "/fapi/v1/listenKey")) == 1


def test_a_cancel_made_at_the_venue_arrives_through_the_stream(services, sync, binance: FakeBinance) -> None:
    services("r0", **stream_env(binance))
    live(sync)
    intent_id = resting(sync)
    binance.exchange.fill(client_order_id(intent_id), "0.002")
    binance.exchange.cancel_elsewhere(client_order_id(intent_id))
    wait_for(lambda: last(sync, intent_id).get("status") == "CANCELED", "the cancel", 10)
    assert position(sync) == pytest.approx(0.002) and reserved(sync) == 0.0 and sync.zcard("exec:open") == 0


def test_duplicated_and_out_of_order_events_are_booked_once(services, sync, binance: FakeBinance) -> None:
    services("r0", **stream_env(binance))
    live(sync)
    intent_id = resting(sync)
    coid = client_order_id(intent_id)
    stream = binance.user_stream
    stream.duplicate = True
    stream.hold()
    binance.exchange.fill(coid, "0.004")
    binance.exchange.fill(coid, "0.003")
    stream.release(reverse=True)                    # 0.007 first, then 0.004; each twice
    wait_for(lambda: position(sync) >= 0.007 - 1e-9, "the fills", 10)
    time.sleep(1.0)
    assert position(sync) == pytest.approx(0.007) and reserved(sync) == pytest.approx(0.003)
    assert sum(q for _, q in fills(sync, intent_id)) == pytest.approx(0.007)
    binance.exchange.fill(coid)
    wait_for(lambda: last(sync, intent_id).get("status") == "FILLED", "the rest", 10)
    time.sleep(0.5)
    assert position(sync) == pytest.approx(0.01)


def test_an_expired_listen_key_and_a_dropped_socket_are_reconnected_and_caught_up(services, sync,
                                                                                 binance: FakeBinance) -> None:
    services("r0", **stream_env(binance))
    live(sync)
    first, second = resting(sync, 0.002), resting(sync, 0.002)
    binance.user_stream.expire()
    binance.exchange.fill(client_order_id(first))   # while nobody listens: the catch-up round books it
    wait_for(lambda: last(sync, first).get("status") == "FILLED", "the fill caught up", 15)
    wait_for(lambda: binance.user_stream.connections == 2, "a new connection", 15)
    binance.user_stream.drop()
    wait_for(lambda: binance.user_stream.connections == 3, "a new connection", 15)
    live(sync)
    binance.exchange.fill(client_order_id(second))
    wait_for(lambda: last(sync, second).get("status") == "FILLED", "the fill from the stream", 15)
    assert position(sync) == pytest.approx(0.004)
    assert len(binance.sent("POST", "/fapi/v1/listenKey")) == 3


def test_the_stream_holder_killed_another_replica_takes_over(services, sync, binance: FakeBinance) -> None:
    replicas = {name: services(name, **stream_env(binance)) for name in ("r0", "r1")}
    live(sync)
    first, second = resting(sync, 0.002), resting(sync, 0.002)
    holder = sync.get(LEASE).decode().split(":")[0]
    assert [gauge(s, "execution_user_stream_holder") for s in replicas.values()].count(1.0) == 1
    binance.exchange.fill(client_order_id(first), "0.001")
    wait_for(lambda: last(sync, first).get("status") == "PARTIALLY_FILLED", "a fill through the first holder", 10)
    replicas[holder].kill()
    killed = time.monotonic()
    binance.exchange.fill(client_order_id(first))   # while the holder is dead
    survivor = next(name for name in replicas if name != holder)
    taken = wait_for(lambda: (sync.get(LEASE) or b"").decode().startswith(survivor + ":"), "the take-over", 30)
    assert taken - killed < 10, "taken over within seconds"
    wait_for(lambda: last(sync, first).get("status") == "FILLED", "the fill made while nobody listened", 15)
    wait_for(lambda: gauge(replicas[survivor], "execution_user_stream_holder") == 1.0, "the survivor's stream", 10)
    binance.exchange.fill(client_order_id(second))
    wait_for(lambda: last(sync, second).get("status") == "FILLED", "a fill through the new holder", 10)
    time.sleep(0.5)
    assert position(sync) == pytest.approx(0.004), "nothing booked twice or missed"
    assert sum(q for _, q in fills(sync, first)) == pytest.approx(0.002)


def test_a_silent_stream_hands_over_to_polling(services, sync, binance: FakeBinance) -> None:
    services("r0", **stream_env(binance, order_poll_interval_s=0.3, user_stream_silence_s=2))
    live(sync)
    intent_id = resting(sync)
    binance.user_stream.silent = True               # the socket stays open, nothing arrives
    binance.exchange.fill(client_order_id(intent_id))
    wait_for(lambda: last(sync, intent_id).get("status") == "FILLED", "the fill through polling", 15)
    order_id = binance.orders_for(client_order_id(intent_id))[0].order_id
    assert fills(sync, intent_id) == [(f"{order_id}:0.01", 0.01)], "booked by the backstop"
    assert sync.get(LIVE) is None


def test_a_funding_fee_is_booked_once_on_its_position_and_shows_in_positions_and_metrics(
        services, sync, binance: FakeBinance) -> None:
    service = services("r0", **stream_env(binance))
    live(sync)
    intent_id = resting(sync)
    binance.exchange.fill(client_order_id(intent_id))
    wait_for(lambda: last(sync, intent_id).get("status") == "FILLED", "the fill", 10)
    wait_for(lambda: sync.hget("exec:binance:balances", "USDT") is not None, "the balance of the fill", 10)
    realized = float(sync.hget("exec:position:BTCUSDT", "realized_pnl") or 0)
    binance.user_stream.duplicate = True                      # delivered twice, booked once
    binance.user_stream.funding("BTCUSDT", "-0.75")
    wait_for(lambda: sync.hget("exec:position:BTCUSDT", "funding") is not None, "the funding fee", 10)
    time.sleep(0.5)                                           # the duplicate, too
    [row] = [p for p in service.get("/positions").json()["positions"] if p["symbol"] == "BTCUSDT"]
    assert row["funding"] == pytest.approx(-0.75) and row["realized_pnl"] == pytest.approx(realized - 0.75)
    assert row["qty"] == pytest.approx(0.01)                  # the position itself is the books', untouched
    wallet = float(binance.exchange.balances[USDM]["USDT"])
    assert float(sync.hget("exec:binance:balances", "USDT")) == pytest.approx(wallet)
    metrics = service.get("/metrics").text
    assert 'execution_funding_fees_total{asset="USDT",direction="paid"} 0.75' in metrics
    assert gauge(service, 'execution_balance{asset="USDT"}') == pytest.approx(wallet)
