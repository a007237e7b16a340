"""PAPER orders booked, and settled when they fill, inside the admission gate's script call."""

from __future__ import annotations

import asyncio
from typing import Any

import redis as sync_redis
import redis.asyncio as aioredis

from tests.execution.conftest import Harness, build
from tests.utils.reservations import sides
from tests.utils.streams import by_entry, intent, pending_count, publish, results


def script_calls(sync: sync_redis.Redis) -> int:
    stats: dict[str, Any] = sync.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def test_a_paper_batch_that_fills_is_admitted_booked_and_settled_in_one_script_call(harness: Harness) -> None:
    publish(harness.sync, intent())
    await harness.consumer().burst()  # scripts loaded, group created
    harness.sync.config_resetstat()
    ids = publish(harness.sync, *(intent(side=("BUY", "SELL")[i % 2]) for i in range(40)))
    await harness.consumer().burst()

    assert script_calls(harness.sync) == 1  # gate, booking and settlement: one call for the batch
    answered = by_entry(results(harness.sync))
    assert all([r["status"] for r in answered[i]] == ["FILLED"] for i in ids)
    assert sorted(int(answered[i][0]["exchange_order_id"]) for i in ids) == list(range(2, 42))
    assert harness.paper_orders() == 41
    assert pending_count(harness.sync) == 0 and not harness.sync.smembers(harness.keys.inflight)


async def test_the_booked_order_id_is_written_into_result_trade_and_order_record(harness: Harness) -> None:
    slot = '"exchange_order_id":"{paper-order-id}"'  # an intent's own text that looks like the slot stays as sent
    body = intent(strategy=slot, source="{paper-order-id}")
    publish(harness.sync, intent(), body)
    await harness.consumer().burst()

    result = next(r for r in results(harness.sync) if r["intent_id"] == body["intent_id"])
    assert (result["exchange_order_id"], result["strategy"], result["source"]) == ("2", slot, "{paper-order-id}")
    trade = next(t for t in await harness.store.trades(10) if t["intent_id"] == body["intent_id"])
    assert trade["exchange_order_id"] == "2"
    order = await harness.store.order(body["intent_id"])
    assert order is not None and order["result"]["exchange_order_id"] == "2"
    assert harness.sync.get(harness.keys.paper_order(result["client_order_id"])) is not None


async def test_only_what_the_gate_admits_is_booked(redis_url: str, aredis: aioredis.Redis,
                                                  sync: sync_redis.Redis) -> None:
    h = build(redis_url, aredis, sync, max_position_usd=500.0)
    small, big, reduce = publish(sync, intent(quantity=0.002), intent(quantity=0.004),
                                 intent(side="SELL", quantity=0.001, reduce_only=True))
    await h.consumer().burst()

    answered = {entry: found for entry, (found,) in by_entry(results(sync)).items()}
    assert (answered[small]["status"], answered[small]["exchange_order_id"]) == ("FILLED", "1")
    assert (answered[big]["reason"], answered[big]["exchange_order_id"]) == ("POSITION_LIMIT", None)
    assert (answered[reduce]["status"], answered[reduce]["exchange_order_id"]) == ("FILLED", "2")
    assert h.paper_orders() == 2
    wallet = {k.decode(): v.decode() for k, v in sync.hgetall(h.keys.paper_wallet).items()}
    assert abs(float(wallet["q:BTCUSDT"]) - 0.001) < 1e-12  # the denied order never reached the book
    assert sides(sync.hgetall(h.keys.reserved)) == (0, 0)


async def test_a_booking_the_venue_refuses_releases_the_reservation(redis_url: str, aredis: aioredis.Redis,
                                                                    sync: sync_redis.Redis) -> None:
    h = build(redis_url, aredis, sync, paper_balance_usd=10.0)
    [entry_id] = publish(sync, intent(quantity=0.002, leverage=1))
    await h.consumer().burst()

    [result] = results(sync)
    assert result["intent_entry_id"] == entry_id
    assert (result["status"], result["reason"], result["exchange_code"]) == ("REJECTED", "INSUFFICIENT_BALANCE", -2019)
    assert h.paper_orders() == 0
    assert sides(sync.hgetall(h.keys.reserved)) == (0, 0)
    assert not sync.smembers(h.keys.inflight) and pending_count(sync) == 0


async def test_a_booking_that_fails_stays_pending_and_is_booked_once_on_redelivery(harness: Harness) -> None:
    wallet = harness.keys.paper_wallet
    harness.sync.hset(wallet, mapping={"balance": "10000", "q:BTCUSDT": "corrupt"})  # the venue's script fails on it
    [entry_id] = publish(harness.sync, intent())
    await harness.consumer("first").burst()
    assert results(harness.sync) == [] and pending_count(harness.sync) == 1
    assert harness.paper_orders() == 0

    harness.sync.hdel(wallet, "q:BTCUSDT")
    await asyncio.sleep(0.15)  # past CLAIM_MIN_IDLE_MS: the entry is reclaimed and resumed
    await harness.consumer("second").burst()

    [result] = results(harness.sync)
    assert (result["intent_entry_id"], result["status"], result["consumer"]) == (entry_id, "FILLED", "second")
    assert harness.paper_orders() == 1 and pending_count(harness.sync) == 0
