"""Order actions and the lifecycle where replicas race, venues fail and deliveries repeat: each case
once made a fill, a reservation or an answer come out wrong (found by review, 2026-12-07)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from app.exchange.base import Quote
from app.execution.lifecycle import _growing
from app.orders.machine import ExecutionType, Order, OrderStatus, VenueUpdate
from tests.execution.conftest import Harness, build
from tests.execution.test_order_actions import action, events, reserved, rest
from tests.utils.streams import pending_count, publish, results
from tests.utils.venues import PatchedVenue


async def test_one_cancel_sent_twice_to_two_replicas_acts_once_and_is_answered_once(redis_url: str, aredis: Any,
                                                                                    sync: Any) -> None:
    async def slow_cancel(order: Any) -> Any:
        await asyncio.sleep(0.3)  # a venue round trip: the retry arrives meanwhile
        return await h.exchange._inner.cancel_order(order)  # type: ignore[attr-defined]

    h = build(redis_url, aredis, sync, exchange_wrapper=lambda inner: PatchedVenue(inner, cancel_order=slow_cancel))
    await rest(h, "sig-9")
    publish(h.sync, action("CANCEL", "c-9", target_intent_id="sig-9"))
    first = asyncio.create_task(h.consumer("r1").burst())
    await asyncio.sleep(0.1)
    publish(h.sync, action("CANCEL", "c-9", target_intent_id="sig-9"))  # the producer's retry
    await asyncio.gather(first, h.consumer("r2").burst())
    assert pending_count(h.sync) == 1, "the retry waits while the first is in flight"
    await h.consumer("r2").burst()
    answers = [(r["status"], r["duplicate"]) for r in results(h.sync) if r["intent_id"] == "c-9"]
    assert sorted(answers) == [("CANCELED", False), ("CANCELED", True)]
    assert [e["status"] for e in events(h)] == ["NEW", "CANCELED"]


async def test_a_dead_lettered_amend_gives_back_what_the_gate_held_for_it(redis_url: str, aredis: Any,
                                                                          sync: Any) -> None:
    async def away(*_: Any) -> Any:
        raise ConnectionError("venue away")

    h = build(redis_url, aredis, sync, max_deliveries=2,
              exchange_wrapper=lambda inner: PatchedVenue(inner, amend_order=away))
    await rest(h, "sig-1", price=90_000, quantity=0.005)
    publish(h.sync, action("AMEND", "a-1", target_intent_id="sig-1", quantity=0.008))
    for _ in range(4):
        await h.consumer().burst()
    result = next(r for r in results(h.sync) if r["intent_id"] == "a-1")
    assert (result["status"], result["reason"]) == ("FAILED", "DEAD_LETTER") and pending_count(h.sync) == 0
    assert reserved(h) == (0.005, 0.0), "only the resting order's own reservation is held"


async def test_a_cancel_all_delivered_again_counts_every_order_it_canceled(harness: Harness) -> None:
    await rest(harness, "b-1")
    await rest(harness, "b-2", price=89_000, quantity=0.002)
    [entry_id] = publish(harness.sync, action("CANCEL_ALL", "ca-1", symbol="BTCUSDT"))
    # its first delivery took the intent id and canceled both, then the replica died before answering
    await harness.processor._gate.claim("ca-1", entry_id)
    await harness.processor.orders.cancel(["b-1", "b-2"], "CANCEL_INTENT", "ca-1")
    await harness.consumer().burst()
    result = next(r for r in results(harness.sync) if r["intent_id"] == "ca-1")
    assert (result["status"], result["canceled_count"]) == ("CANCELED", 2)


async def test_a_fill_allocated_before_an_amend_is_not_booked_at_the_old_price(harness: Harness) -> None:
    await rest(harness, "sig-2", price=90_000, quantity=0.005)
    orders = harness.processor.orders
    allocate_first = orders._first_match

    async def then_amended(quote_id: str, fills: Any) -> Any:
        out = await allocate_first(quote_id, fills)
        await orders.update(["sig-2"], lambda o: VenueUpdate(ExecutionType.AMENDED, o.status, price=Decimal(89_000)))
        return out

    orders._first_match = then_amended  # type: ignore[method-assign]
    await orders.on_quote("BTCUSDT", Quote(Decimal(89_900), Decimal(89_950)), f"{int(time.time() * 1000)}-0")
    order = await orders.book.get("sig-2")
    assert order is not None and order.status is OrderStatus.NEW and order.executed_qty == 0


async def test_a_quote_published_before_an_order_was_placed_does_not_fill_it(harness: Harness) -> None:
    await rest(harness, "sig-3", price=90_000, quantity=0.005)
    stale = f"{int(time.time() * 1000) - 60_000}-0"  # a replica reading the feed a minute late
    assert await harness.processor.orders.on_quote("BTCUSDT", Quote(Decimal(89_000), Decimal(89_100)), stale) == []
    fresh = f"{int(time.time() * 1000) + 1}-0"
    [change] = await harness.processor.orders.on_quote("BTCUSDT", Quote(Decimal(89_000), Decimal(89_100)), fresh)
    assert change.after.status is OrderStatus.FILLED


async def test_one_order_whose_cancel_keeps_failing_holds_back_no_other(redis_url: str, aredis: Any,
                                                                       sync: Any) -> None:
    async def stuck_on_one(order: Any) -> Any:
        if order.intent_id == "stuck":
            raise ConnectionError("the venue refuses this one")
        return await h.exchange._inner.cancel_order(order)  # type: ignore[attr-defined]

    h = build(redis_url, aredis, sync, exchange_wrapper=lambda inner: PatchedVenue(inner, cancel_order=stuck_on_one))
    await rest(h, "stuck", expire_after_s=0.05)
    await rest(h, "other", price=89_000, quantity=0.002, expire_after_s=0.05)
    await rest(h, "plain", price=88_000, quantity=0.002)
    time.sleep(0.1)
    await h.processor.orders.sweep()
    assert {o.intent_id for o in await h.processor.orders.book.open_orders()} == {"stuck", "plain"}
    h.sync.set(h.keys.trading_state, "HALTED")
    await h.processor.orders.sweep()
    assert [o.intent_id for o in await h.processor.orders.book.open_orders()] == ["stuck"]


def test_reducing_keeps_only_orders_that_reduce_together_with_the_ones_kept_before() -> None:
    def sell(n: int, quantity: str) -> Order:
        return Order(f"s{n}", f"c{n}", "BTCUSDT", "SELL", "LIMIT", Decimal(quantity), Decimal(100), created_ms=n)

    orders = [sell(0, "0.8"), sell(1, "0.8"), sell(2, "0.1")]
    growing = _growing(orders, {"BTCUSDT": Decimal(1)})
    # long 1.0: the first SELL 0.8 brings it to 0.2; the second would flip it to -0.6; 0.1 more reduces
    assert [o.intent_id for o in growing] == ["s1"]
    assert [o.intent_id for o in _growing(orders, {})] == ["s0", "s1", "s2"], "flat: every order grows it"
