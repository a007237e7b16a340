"""An order's whole life through real service processes, PAPER priced from the quote stream:
rest, fill on a crossing quote, cancel, expire, the kill switch; two replicas reading one feed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import redis

from tests.reliability.workload import wait_for
from tests.utils.reservations import sides
from tests.utils.service import ROOT
from tests.utils.streams import intent, publish, wait_results

STREAMED = {"paper_price_source": "stream", "order_sweep_interval_s": 0.2}


def quote(sync: redis.Redis, symbol: str, bid: float, ask: float, **qty: float) -> None:
    sync.xadd("market.quotes", {"data": json.dumps({"symbol": symbol, "bid": bid, "ask": ask, **qty})})


def events(sync: redis.Redis, intent_id: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(f[b"data"]) for _, f in sync.xrange("execution.order")]
    return [e for e in found if intent_id is None or e["intent_id"] == intent_id]


def position(sync: redis.Redis, symbol: str = "BTCUSDT") -> float:
    return float(sync.hget(f"exec:position:{symbol}", "qty") or 0)


def reserved(sync: redis.Redis, symbol: str = "BTCUSDT") -> tuple[float, float]:
    """(BUY, SELL) reserved on ``symbol``."""
    return sides(sync.hgetall("exec:risk:reserved"), symbol)


def test_a_resting_order_fills_on_a_crossing_quote_once_though_two_replicas_read_the_feed(services, sync) -> None:
    quote(sync, "BTCUSDT", 95_000.0, 95_000.1)
    first = services("r0", **STREAMED)
    services("r1", **STREAMED)
    publish(sync, intent("BTCUSDT", "BUY", quantity=0.004, order_type="LIMIT", price=94_000, intent_id="rest-1"))
    [result] = wait_results(sync, 1)
    assert (result["status"], result["reason"]) == ("NEW", "ORDER_OPEN")
    assert reserved(sync) == (0.004, 0) and position(sync) == 0.0
    listed = first.get("/orders", params={"status": "open"})
    assert listed.status_code == 200 and [o["intent_id"] for o in listed.json()["orders"]] == ["rest-1"]

    quote(sync, "BTCUSDT", 93_990.0, 93_999.0, ask_qty=0.001)  # crosses, shows 0.001
    wait_for(lambda: len(events(sync, "rest-1")) == 2, "a partial fill")
    quote(sync, "BTCUSDT", 93_980.0, 93_990.0)                  # crosses, no size: the rest
    wait_for(lambda: events(sync, "rest-1")[-1]["status"] == "FILLED", "the order filling")
    time.sleep(0.5)  # both replicas had every quote: nothing more may be booked
    trail = events(sync, "rest-1")
    assert [(e["seq"], e["status"], e["last_fill_quantity"]) for e in trail] == [
        (1, "NEW", None), (2, "PARTIALLY_FILLED", 0.001), (3, "FILLED", 0.003)]
    assert all(e["last_fill_price"] in (None, 94_000) for e in trail), "filled at its own limit price"
    assert trail[-1]["fee"] > 0 and trail[-1]["executed_quantity"] == 0.004
    positions = {p["symbol"]: p for p in first.get("/positions").json()["positions"]}
    assert positions["BTCUSDT"]["qty"] == 0.004 and positions["BTCUSDT"]["avg_entry"] == 94_000
    assert reserved(sync) == (0, 0)


def test_cancel_and_expiry_through_the_stream(services, sync) -> None:
    quote(sync, "BTCUSDT", 95_000.0, 95_000.1)
    services("r0", **STREAMED)
    publish(sync, intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=94_000, intent_id="to-cancel"),
            intent("BTCUSDT", "SELL", quantity=0.002, order_type="LIMIT", price=96_000, intent_id="to-expire",
                   expire_after_s=2))
    wait_results(sync, 2)
    publish(sync, {"action": "CANCEL", "intent_id": "c-1", "target_intent_id": "to-cancel"},
            {"action": "CANCEL", "intent_id": "c-2", "target_intent_id": "never-sent"})
    found = {r["intent_id"]: r for r in wait_results(sync, 4)}
    assert found["c-1"]["status"] == "CANCELED" and found["c-1"]["remaining_quantity"] == 0.002
    assert (found["c-2"]["status"], found["c-2"]["reason"]) == ("REJECTED", "ORDER_NOT_OPEN")
    started = time.monotonic()
    wait_for(lambda: events(sync, "to-expire")[-1]["status"] == "EXPIRED", "the order expiring", timeout=15)
    assert time.monotonic() - started < 10
    assert [e["status"] for e in events(sync, "to-cancel")] == ["NEW", "CANCELED"]
    assert reserved(sync) == (0, 0) and sync.zcard("exec:open") == 0


def test_halting_cancels_every_open_order_and_reducing_those_that_grow(services, sync) -> None:
    quote(sync, "BTCUSDT", 95_000.0, 95_000.1)
    service = services("r0", admin_token="t0ken-for-tests", **STREAMED)
    publish(sync, intent("BTCUSDT", "BUY", quantity=0.004, intent_id="long"))  # a position to reduce
    wait_results(sync, 1)
    publish(sync, intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=94_000, intent_id="grow"),
            intent("BTCUSDT", "SELL", quantity=0.002, order_type="LIMIT", price=96_000, intent_id="reduce"))
    wait_results(sync, 3)
    auth = {"Authorization": "Bearer t0ken-for-tests"}
    assert service.post("/admin/trading-state", json={"state": "REDUCING"}, headers=auth).status_code == 200
    wait_for(lambda: events(sync, "grow")[-1]["status"] == "CANCELED", "the growing order canceled")
    assert events(sync, "grow")[-1]["reason"] == "KILL_SWITCH"
    assert events(sync, "reduce")[-1]["status"] == "NEW", "an order that reduces the position stays"
    assert service.post("/admin/trading-state", json={"state": "HALTED"}, headers=auth).status_code == 200
    wait_for(lambda: events(sync, "reduce")[-1]["status"] == "CANCELED", "every order canceled when HALTED")
    assert reserved(sync) == (0, 0)


def test_the_quote_command_feeds_the_matcher(services, sync, redis_url) -> None:
    quote(sync, "ETHUSDT", 3500.0, 3500.1)
    services("r0", **STREAMED)
    publish(sync, intent("ETHUSDT", "SELL", quantity=0.05, order_type="LIMIT", price=3510, intent_id="eth-1"))
    wait_results(sync, 1)
    subprocess.run([sys.executable, "-m", "app", "quote", "ETHUSDT", "3511", "3512"], cwd=ROOT, check=True,
                   env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}, capture_output=True)
    wait_for(lambda: events(sync, "eth-1")[-1]["status"] == "FILLED", "the SELL filling at the bid")
    assert position(sync, "ETHUSDT") == -0.05
