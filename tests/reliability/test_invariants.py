"""The exactly-once checks can fail: a consistent two-intent run passes, and each kind of damage a
broken service could do is caught with a message naming it."""

from __future__ import annotations

import json
from typing import Callable

import pytest
import redis

from tests.reliability.invariants import KEYS, check_exactly_once
from tests.utils.chaos import IndexedExchange

SIDES = {"c-buy": "BUY", "c-sell": "SELL"}


def _consistent_run(client: redis.Redis) -> tuple[list[str], IndexedExchange]:
    """Two intents that each filled once, recorded the way a correct service leaves them."""
    client.xgroup_create(KEYS.intent_stream, KEYS.group, id="0", mkstream=True)
    exchange = IndexedExchange()
    entry_ids = []
    for coid, side in SIDES.items():
        entry_id = client.xadd(KEYS.intent_stream, {"data": "{}"}).decode()
        entry_ids.append(entry_id)
        exchange.place("usdm", {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.002",
                                "newClientOrderId": coid}, 0)
        result = {"intent_entry_id": entry_id, "client_order_id": coid, "status": "FILLED", "reason": None,
                  "duplicate": False, "symbol": "BTCUSDT", "side": side, "executed_quantity": 0.002}
        client.xadd(KEYS.result_stream, {"data": json.dumps(result)})
    client.xreadgroup(KEYS.group, "c", {KEYS.intent_stream: ">"})
    client.xack(KEYS.intent_stream, KEYS.group, *entry_ids)
    client.hset(KEYS.position("BTCUSDT"), "qty", "0.0000000000")
    client.hset(KEYS.risk_positions, "BTCUSDT", "0")
    client.hset(KEYS.reserved, "BTCUSDT:BUY", "0")
    client.hset(KEYS.counters, "filled", 2)
    return entry_ids, exchange


def _second_order(client: redis.Redis, ex: IndexedExchange) -> None:
    ex.place("usdm", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002",
                      "newClientOrderId": "c-buy"}, 0)


def _repeat_result(client: redis.Redis, ex: IndexedExchange) -> None:
    first = client.xrange(KEYS.result_stream, count=1)[0][1]
    client.xadd(KEYS.result_stream, first)


def _pending(client: redis.Redis, ex: IndexedExchange) -> None:
    client.xadd(KEYS.intent_stream, {"data": "{}"})
    client.xreadgroup(KEYS.group, "c", {KEYS.intent_stream: ">"})


DAMAGE: dict[str, tuple[Callable[[redis.Redis, IndexedExchange], object], str]] = {
    "an intent ordered twice": (_second_order, "more than one order"),
    "an entry answered twice": (_repeat_result, "answered more than once"),
    "an order without a fill result": (lambda c, ex: ex.place("usdm", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002", "newClientOrderId": "c-x"}, 0),
        "orders at the exchange without a fill result"),
    "a position booked twice": (lambda c, ex: c.hset(KEYS.position("BTCUSDT"), "qty", "0.002"),
                                "positions in Redis"),
    "the gate's position astray": (lambda c, ex: c.hset(KEYS.risk_positions, "BTCUSDT", "-0.002"),
                                   "positions in Redis"),
    "an entry left pending": (_pending, "still pending"),
    "a reservation left": (lambda c, ex: c.hset(KEYS.reserved, "BTCUSDT:SELL", "0.002"), "reservations left"),
    "an intent still in flight": (lambda c, ex: c.sadd(KEYS.inflight, "i-1"), "in flight"),
    "a counter that disagrees": (lambda c, ex: c.hincrby(KEYS.counters, "filled", 1), "counters"),
}


def test_a_consistent_run_passes(sync: redis.Redis) -> None:
    entry_ids, exchange = _consistent_run(sync)
    tally = check_exactly_once(sync, entry_ids, exchange)
    assert (tally.results, tally.orders, tally.outcomes, tally.positions) == (2, 2, {"FILLED": 2}, {"BTCUSDT": "0"})


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_caught(sync: redis.Redis, damage: str) -> None:
    entry_ids, exchange = _consistent_run(sync)
    do, message = DAMAGE[damage]
    do(sync, exchange)
    with pytest.raises(AssertionError, match=message):
        check_exactly_once(sync, entry_ids, exchange)


def test_an_unanswered_entry_is_caught(sync: redis.Redis) -> None:
    entry_ids, exchange = _consistent_run(sync)
    with pytest.raises(AssertionError, match="have no result"):
        check_exactly_once(sync, [*entry_ids, "9999999999999-0"], exchange)
