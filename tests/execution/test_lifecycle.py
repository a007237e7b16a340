"""Resting PAPER orders followed to their end through the real pipeline: fills from quotes, cancels,
expiries, the kill switch, and replicas acting on the same order."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D
from typing import Any

from app.exchange.base import Quote
from app.models.trading import TradingState
from tests.execution.conftest import Harness
from tests.utils.reservations import sides
from tests.utils.streams import intent, publish, results

# PAPER's static BTCUSDT book: mid 95,000, bid 94,995.25, ask 95,004.75
CROSS_94000 = Quote(bid=D("93990"), ask=D("93995"))


async def rest(h: Harness, side: str = "BUY", quantity: float = 0.002, price: float = 94_000,
               symbol: str = "BTCUSDT") -> str:
    """A LIMIT order priced away from the market: the pipeline answers NEW and it rests."""
    body = intent(symbol, side, quantity=quantity, order_type="LIMIT", price=price)
    publish(h.sync, body)
    await h.consumer().burst()
    [result] = [r for r in results(h.sync) if r["intent_id"] == body["intent_id"]]
    assert (result["status"], result["reason"]) == ("NEW", "ORDER_OPEN"), result
    return str(body["intent_id"])


async def market(h: Harness, side: str = "BUY", quantity: float = 0.002) -> dict[str, Any]:
    body = intent("BTCUSDT", side, quantity=quantity)
    publish(h.sync, body)
    await h.consumer().burst()
    [result] = [r for r in results(h.sync) if r["intent_id"] == body["intent_id"]]
    return result


def events(h: Harness, intent_id: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(f[b"data"]) for _, f in h.sync.xrange(h.keys.order_stream)]
    return [e for e in found if intent_id is None or e["intent_id"] == intent_id]


def reserved(h: Harness, symbol: str = "BTCUSDT") -> tuple[float, float]:
    """(BUY, SELL) reserved on ``symbol``."""
    return sides(h.sync.hgetall(h.keys.reserved), symbol)


async def position(h: Harness, symbol: str = "BTCUSDT") -> float:
    return sum(p["qty"] for p in await h.store.positions() if p["symbol"] == symbol)


def statuses(h: Harness, intent_id: str) -> list[str]:
    return [e["status"] for e in events(h, intent_id)]


async def test_a_limit_buy_below_the_market_rests_with_its_reservation(harness: Harness) -> None:
    order_id = await rest(harness)
    order = await harness.lifecycle().book.get(order_id)
    assert order is not None and order.status.value == "NEW" and order.price == D("94000")
    assert reserved(harness) == (0.002, 0) and await position(harness) == 0.0
    assert statuses(harness, order_id) == ["NEW"]


async def test_a_crossing_quote_fills_it_and_the_position_moves(harness: Harness) -> None:
    order_id = await rest(harness)
    follower = harness.lifecycle()
    assert await follower.on_quote("BTCUSDT", Quote(bid=D("94100"), ask=D("94100.1")), "q0") == []  # not crossed
    [change] = await follower.on_quote("BTCUSDT", CROSS_94000, "q1")
    assert change.after.status.value == "FILLED"
    [_, filled] = events(harness, order_id)
    assert (filled["status"], filled["trade_id"], filled["last_fill_price"], filled["seq"]) == ("FILLED", "q1", 94000.0, 2)
    assert filled["fee"] == 0.0376  # maker fee: 94,000 x 0.002 x 0.0002
    [pos] = await harness.store.positions()
    assert (pos["qty"], pos["avg_entry"]) == (0.002, 94000.0)
    assert reserved(harness) == (0, 0)
    assert len(results(harness.sync)) == 1  # execution.result keeps one result per intent
    assert await follower.on_quote("BTCUSDT", CROSS_94000, "q2") == []  # filled: nothing left to match


async def test_a_quote_showing_less_fills_part_and_the_next_the_rest(harness: Harness) -> None:
    order_id = await rest(harness)
    follower = harness.lifecycle()
    thin = Quote(bid=D("93990"), ask=D("93995"), ask_qty=D("0.0005"))
    [part] = await follower.on_quote("BTCUSDT", thin, "q1")
    assert part.after.status.value == "PARTIALLY_FILLED" and part.after.executed_qty == D("0.0005")
    assert reserved(harness) == (0.0015, 0) and await position(harness) == 0.0005
    await follower.on_quote("BTCUSDT", CROSS_94000, "q2")
    assert statuses(harness, order_id) == ["NEW", "PARTIALLY_FILLED", "FILLED"]
    assert reserved(harness) == (0, 0) and await position(harness) == 0.002


async def test_a_cancel_frees_the_reservation_so_an_order_the_limit_refused_passes(harness: Harness) -> None:
    """0.01 BTC resting is 940 USD of the 1,000 USD position limit: 0.002 more does not fit until it goes."""
    order_id = await rest(harness, quantity=0.01)
    refused = await market(harness)
    assert (refused["status"], refused["reason"]) == ("REJECTED", "POSITION_LIMIT"), refused
    [change] = await harness.lifecycle().cancel([order_id], "CANCEL_INTENT", cause_intent_id="c-1")
    assert change.after.status.value == "CANCELED" and change.released == D("0.01")
    [*_, canceled] = events(harness, order_id)
    assert (canceled["status"], canceled["reason"], canceled["cause_intent_id"]) == ("CANCELED", "CANCEL_INTENT", "c-1")
    assert reserved(harness) == (0, 0)
    assert (await market(harness))["status"] == "FILLED"
    assert await harness.lifecycle().cancel([order_id], "CANCEL_INTENT") == []  # final: a second cancel is nothing


async def test_the_sweep_expires_an_order_whose_time_is_up(harness: Harness) -> None:
    later, due = await rest(harness), await rest(harness, price=93_000)
    now_ms = int(time.time() * 1000)
    harness.sync.zadd(harness.keys.expiries, {due: now_ms - 1, later: now_ms + 60_000})
    await harness.lifecycle().sweep()
    [*_, expired] = events(harness, due)
    assert (expired["status"], expired["execution_type"], expired["reason"]) == ("EXPIRED", "EXPIRED", "EXPIRE_AFTER")
    assert statuses(harness, later) == ["NEW"] and reserved(harness) == (0.002, 0)
    assert harness.sync.zrange(harness.keys.expiries, 0, -1) == [later.encode()]
    assert (await harness.store.counters())["orders_expired"] == 1


async def test_halted_cancels_every_open_order(harness: Harness) -> None:
    ids = [await rest(harness), await rest(harness, "SELL", price=96_000), await rest(harness, symbol="ETHUSDT",
                                                                                      quantity=0.05, price=3_400)]
    await harness.store.set_trading_state(TradingState.HALTED)
    await harness.lifecycle().sweep()
    assert [statuses(harness, i)[-1] for i in ids] == ["CANCELED"] * 3
    assert {e["reason"] for e in events(harness) if e["status"] == "CANCELED"} == {"KILL_SWITCH"}
    assert reserved(harness) == (0, 0) and reserved(harness, "ETHUSDT") == (0, 0)


async def test_reducing_cancels_only_the_orders_that_would_grow_a_position(harness: Harness) -> None:
    assert (await market(harness, "BUY", 0.004))["status"] == "FILLED"  # long 0.004 BTC
    grows = await rest(harness, "BUY", 0.002, 94_000)
    reduces = await rest(harness, "SELL", 0.003, 96_000)
    flips = await rest(harness, "SELL", 0.006, 96_500)  # long 0.004 -> short 0.002: not a reduction
    no_position = await rest(harness, "BUY", 0.05, 3_400, symbol="ETHUSDT")
    await harness.store.set_trading_state(TradingState.REDUCING)
    await harness.lifecycle(cancel_on_kill_switch=False).sweep()
    assert {e["status"] for e in events(harness)} == {"FILLED", "NEW"}  # turned off: nothing canceled
    await harness.lifecycle().sweep()
    assert statuses(harness, reduces) == ["NEW"]
    assert [statuses(harness, i)[-1] for i in (grows, flips, no_position)] == ["CANCELED"] * 3
    assert reserved(harness) == (0, 0.003) and reserved(harness, "ETHUSDT") == (0, 0)


async def test_two_replicas_on_the_same_quote_fill_each_order_once(harness: Harness) -> None:
    ids = [await rest(harness, quantity=0.002, price=94_000 + i) for i in range(5)]
    replicas = [harness.lifecycle(), harness.lifecycle()]
    written = await asyncio.gather(*(r.on_quote("BTCUSDT", CROSS_94000, "q1") for r in replicas))
    assert sum(len(w) for w in written) == 5
    for i in ids:
        assert statuses(harness, i) == ["NEW", "FILLED"]
    assert await position(harness) == 0.01 and reserved(harness) == (0, 0)


async def test_replicas_matching_one_quote_in_turn_fill_no_more_than_it_shows(harness: Harness) -> None:
    """Every replica reads every quote. The first fills the best order whole with all the quote shows,
    which leaves the book; the second must still see that the quote is used up."""
    best = await rest(harness, quantity=0.002, price=94_100)
    other = await rest(harness, quantity=0.002, price=94_000)
    quote = Quote(bid=D("93990"), ask=D("93995"), ask_qty=D("0.002"))
    first, second = harness.lifecycle(), harness.lifecycle()
    assert [c.after.intent_id for c in await first.on_quote("BTCUSDT", quote, "q1")] == [best]
    assert await second.on_quote("BTCUSDT", quote, "q1") == []
    assert statuses(harness, other) == ["NEW"]
    assert await position(harness) == 0.002 and reserved(harness) == (0.002, 0)


async def test_a_replica_that_died_after_matching_a_quote_leaves_its_fills_to_the_next(harness: Harness) -> None:
    best = await rest(harness, quantity=0.002, price=94_100)
    other = await rest(harness, quantity=0.002, price=94_000)
    quote = Quote(bid=D("93990"), ask=D("93995"), ask_qty=D("0.003"))
    dying = harness.lifecycle()

    async def crash(*_: Any) -> None:
        raise ConnectionError("SIGKILL")

    dying.book.update = crash  # type: ignore[method-assign]
    try:
        await dying.on_quote("BTCUSDT", quote, "q1")
    except ConnectionError:
        pass
    assert await position(harness) == 0.0
    newer = await rest(harness, quantity=0.002, price=94_200)  # first in price, but after the quote was matched
    changes = await harness.lifecycle().on_quote("BTCUSDT", quote, "q1")
    assert {c.after.intent_id: c.fill.quantity for c in changes if c.fill} == {best: D("0.002"), other: D("0.001")}
    assert await position(harness) == 0.003 and reserved(harness) == (0.003, 0) and statuses(harness, newer) == ["NEW"]
    assert 0 < harness.sync.ttl(harness.keys.paper_match("q1")) <= 3600
