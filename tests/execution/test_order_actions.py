"""Orders followed to their end through the pipeline: resting LIMIT orders, then CANCEL, CANCEL_ALL,
AMEND and expire_after_s intents, each answered exactly once, with order events and reservations."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from app.exchange.base import Quote
from tests.execution.conftest import Harness, build
from tests.utils.reservations import sides
from tests.utils.streams import intent, pending_count, publish, results
from tests.utils.venues import PatchedVenue

BTC_MID = 95_000  # the bundled PAPER price table


def events(h: Harness) -> list[dict[str, Any]]:
    return [json.loads(f[b"data"]) for _, f in h.sync.xrange(h.keys.order_stream)]


def reserved(h: Harness, symbol: str = "BTCUSDT") -> tuple[float, float]:
    """(BUY, SELL) reserved on ``symbol``."""
    return sides(h.sync.hgetall(h.keys.reserved), symbol)


def action(kind: str, intent_id: str, **fields: Any) -> dict[str, Any]:
    return {"action": kind, "intent_id": intent_id, **fields}


async def rest(h: Harness, intent_id: str, price: float = 90_000, quantity: float = 0.005, side: str = "BUY",
               **extra: Any) -> None:
    publish(h.sync, intent("BTCUSDT", side, quantity=quantity, order_type="LIMIT", price=price,
                           intent_id=intent_id, **extra))
    await h.consumer().burst()


async def test_a_resting_limit_order_stays_open_with_its_reservation(harness: Harness) -> None:
    await rest(harness, "sig-1")
    [result] = results(harness.sync)
    assert (result["status"], result["reason"]) == ("NEW", "ORDER_OPEN")
    assert reserved(harness) == (0.005, 0)
    [event] = events(harness)
    assert (event["status"], event["execution_type"], event["seq"]) == ("NEW", "NEW", 1)
    assert event["event_id"] == "sig-1:1" and event["price"] == 90_000 and event["quantity"] == 0.005
    assert result["exchange_order_id"] is not None and event["exchange_order_id"] == result["exchange_order_id"]
    [order] = await harness.processor.orders.book.open_orders()
    assert order.intent_id == "sig-1" and order.remaining == Decimal("0.005")


async def test_cancel_frees_the_reservation_and_a_refused_order_then_passes(harness: Harness) -> None:
    # 0.009 BTC resting at 94,000 holds 855 of the 1,000 USD position limit (valued at the market)
    await rest(harness, "sig-big", price=94_000, quantity=0.009)
    publish(harness.sync, intent("BTCUSDT", "BUY", quantity=0.005, intent_id="mkt-1"))
    await harness.consumer().burst()
    publish(harness.sync, action("CANCEL", "c-1", target_intent_id="sig-big"))
    await harness.consumer().burst()
    publish(harness.sync, intent("BTCUSDT", "BUY", quantity=0.005, intent_id="mkt-2"))
    await harness.consumer().burst()

    by_id = {r["intent_id"]: r for r in results(harness.sync)}
    assert (by_id["mkt-1"]["status"], by_id["mkt-1"]["reason"]) == ("REJECTED", "POSITION_LIMIT")
    cancel = by_id["c-1"]
    assert (cancel["status"], cancel["action"], cancel["target_intent_id"]) == ("CANCELED", "CANCEL", "sig-big")
    assert cancel["remaining_quantity"] == 0.009
    assert by_id["mkt-2"]["status"] == "FILLED"
    final = [e for e in events(harness) if e["intent_id"] == "sig-big"]
    assert [(e["seq"], e["status"]) for e in final] == [(1, "NEW"), (2, "CANCELED")]
    assert final[-1]["reason"] == "CANCEL_INTENT" and final[-1]["cause_intent_id"] == "c-1"
    assert reserved(harness) == (0, 0)
    assert pending_count(harness.sync) == 0


async def test_cancel_of_an_unknown_or_final_target_is_rejected(harness: Harness) -> None:
    await rest(harness, "sig-2")
    for body in (action("CANCEL", "c-unknown", target_intent_id="nope"),
                 action("CANCEL", "c-first", target_intent_id="sig-2"),
                 action("CANCEL", "c-again", target_intent_id="sig-2")):
        publish(harness.sync, body)
        await harness.consumer().burst()
    by_id = {r["intent_id"]: r for r in results(harness.sync)}
    assert (by_id["c-unknown"]["status"], by_id["c-unknown"]["reason"]) == ("REJECTED", "ORDER_NOT_OPEN")
    assert by_id["c-first"]["status"] == "CANCELED"
    assert (by_id["c-again"]["status"], by_id["c-again"]["reason"]) == ("REJECTED", "ORDER_NOT_OPEN")
    assert "CANCELED" in by_id["c-again"]["message"]


async def test_a_cancel_sent_twice_with_one_intent_id_is_a_duplicate(harness: Harness) -> None:
    await rest(harness, "sig-3")
    publish(harness.sync, action("CANCEL", "c-3", target_intent_id="sig-3"))
    publish(harness.sync, action("CANCEL", "c-3", target_intent_id="sig-3"))
    await harness.consumer().burst()
    assert pending_count(harness.sync) == 1, "the second of one batch waits for the first's answer"
    await harness.consumer().burst()  # its own pending entry again: now a duplicate
    first, second = [r for r in results(harness.sync) if r["intent_id"] == "c-3"]
    assert first["status"] == second["status"] == "CANCELED" and second["duplicate"] is True
    assert len([e for e in events(harness) if e["status"] == "CANCELED"]) == 1


async def test_open_orders_count_at_their_worst_case_per_side(harness: Harness) -> None:
    """A resting BUY and a resting SELL of 0.009 BTC net to nothing, but either may fill while the
    other is canceled: a MARKET BUY of 0.005 (0.014 BTC long in the worst case, 1,330 USD) is refused
    although the net view (0.005, 475 USD) would pass it; once the BUY is canceled it passes."""
    await rest(harness, "buy-9", price=94_000, quantity=0.009)
    await rest(harness, "sell-9", price=96_000, quantity=0.009, side="SELL")
    assert reserved(harness) == (0.009, 0.009)
    publish(harness.sync, intent("BTCUSDT", "BUY", quantity=0.005, intent_id="mkt-1"))
    await harness.consumer().burst()
    publish(harness.sync, action("CANCEL", "c-1", target_intent_id="buy-9"))
    await harness.consumer().burst()
    assert reserved(harness) == (0, 0.009)
    publish(harness.sync, intent("BTCUSDT", "BUY", quantity=0.005, intent_id="mkt-2"))
    await harness.consumer().burst()

    by_id = {r["intent_id"]: r for r in results(harness.sync)}
    assert [by_id[i]["status"] for i in ("buy-9", "sell-9", "c-1")] == ["NEW", "NEW", "CANCELED"]
    assert (by_id["mkt-1"]["status"], by_id["mkt-1"]["reason"]) == ("REJECTED", "POSITION_LIMIT")
    assert by_id["mkt-1"]["message"].startswith("BTCUSDT position would be 1330.")
    assert by_id["mkt-2"]["status"] == "FILLED", by_id["mkt-2"]
    assert reserved(harness) == (0, 0.009), "the SELL still rests with its reservation"
    assert float(harness.sync.hget(harness.keys.position("BTCUSDT"), "qty")) == 0.005
    assert pending_count(harness.sync) == 0


async def test_cancel_all_by_symbol(harness: Harness) -> None:
    await rest(harness, "b-1")
    await rest(harness, "b-2", price=89_000, quantity=0.002)
    publish(harness.sync, intent("ETHUSDT", "BUY", quantity=0.05, order_type="LIMIT", price=3000, intent_id="e-1"))
    await harness.consumer().burst()
    publish(harness.sync, action("CANCEL_ALL", "ca-1", symbol="BTCUSDT"))
    await harness.consumer().burst()
    result = next(r for r in results(harness.sync) if r["intent_id"] == "ca-1")
    assert (result["status"], result["canceled_count"]) == ("CANCELED", 2)
    assert [o.intent_id for o in await harness.processor.orders.book.open_orders()] == ["e-1"]
    assert reserved(harness) == (0, 0) and reserved(harness, "ETHUSDT") == (0.05, 0)


async def test_amend_changes_price_and_quantity_and_is_checked_by_risk(harness: Harness) -> None:
    await rest(harness, "sig-4", price=90_000, quantity=0.005)
    publish(harness.sync, action("AMEND", "a-1", target_intent_id="sig-4", price=91_000, quantity=0.008))
    await harness.consumer().burst()
    publish(harness.sync, action("AMEND", "a-2", target_intent_id="sig-4", quantity=0.02))  # 1,900 USD
    await harness.consumer().burst()
    by_id = {r["intent_id"]: r for r in results(harness.sync)}
    assert by_id["a-1"]["status"] == "AMENDED", by_id["a-1"]
    assert (by_id["a-2"]["status"], by_id["a-2"]["reason"]) == ("REJECTED", "POSITION_LIMIT")
    order = await harness.processor.orders.book.get("sig-4")
    assert order is not None and (order.price, order.quantity) == (Decimal(91_000), Decimal("0.008"))
    assert reserved(harness) == (0.008, 0)
    amended = [e for e in events(harness) if e["execution_type"] == "AMENDED"]
    assert [(e["seq"], e["price"], e["quantity"]) for e in amended] == [(2, 91_000, 0.008)]


async def test_amend_of_a_partly_filled_order_below_its_fill_is_refused(harness: Harness) -> None:
    await rest(harness, "sig-5", price=90_000, quantity=0.005)
    orders = harness.processor.orders
    await orders.on_quote("BTCUSDT", Quote(Decimal(89_990), Decimal(89_995), ask_qty=Decimal("0.002")), "q-1")
    publish(harness.sync, action("AMEND", "a-3", target_intent_id="sig-5", quantity=0.002))
    publish(harness.sync, action("AMEND", "a-4", target_intent_id="sig-5", quantity=0.003))
    await harness.consumer().burst()
    by_id = {r["intent_id"]: r for r in results(harness.sync)}
    assert (by_id["a-3"]["status"], by_id["a-3"]["reason"]) == ("REJECTED", "AMEND_BELOW_FILLED")
    assert by_id["a-4"]["status"] == "AMENDED", by_id["a-4"]
    order = await orders.book.get("sig-5")
    assert order is not None and order.executed_qty == Decimal("0.002") and order.remaining == Decimal("0.001")
    assert reserved(harness) == (0.001, 0)
    assert float(harness.sync.hget(harness.keys.position("BTCUSDT"), "qty")) == 0.002


async def test_expire_after_s_expires_the_order(harness: Harness) -> None:
    await rest(harness, "sig-6", expire_after_s=0.2)
    time.sleep(0.3)
    await harness.processor.orders.sweep()
    assert [(e["status"], e["reason"]) for e in events(harness)] == [("NEW", None), ("EXPIRED", "EXPIRE_AFTER")]
    assert reserved(harness) == (0, 0)
    assert await harness.processor.orders.book.open_orders() == []


async def test_limit_orders_beyond_max_open_orders_are_refused(redis_url: str, aredis: Any, sync: Any) -> None:
    h = build(redis_url, aredis, sync, max_open_orders=2)
    for n in range(3):
        await rest(h, f"lim-{n}", price=90_000 - n, quantity=0.002)
    publish(h.sync, intent("BTCUSDT", "BUY", quantity=0.002, intent_id="mkt"))
    await h.consumer().burst()
    by_id = {r["intent_id"]: r for r in results(h.sync)}
    assert [by_id[f"lim-{n}"]["status"] for n in range(3)] == ["NEW", "NEW", "REJECTED"], by_id
    assert by_id["lim-2"]["reason"] == "OPEN_ORDER_LIMIT" and by_id["mkt"]["status"] == "FILLED"
    assert len(await h.processor.orders.book.open_orders()) == 2


async def test_an_action_the_venue_keeps_failing_is_dead_lettered(redis_url: str, aredis: Any, sync: Any) -> None:
    async def away(order: Any) -> Any:
        raise ConnectionError("venue away")

    h = build(redis_url, aredis, sync, exchange_wrapper=lambda inner: PatchedVenue(inner, cancel_order=away),
              max_deliveries=2)
    await rest(h, "sig-7")
    publish(h.sync, action("CANCEL", "c-7", target_intent_id="sig-7"))
    for _ in range(4):
        await h.consumer().burst()
    result = next(r for r in results(h.sync) if r["intent_id"] == "c-7")
    assert (result["status"], result["reason"]) == ("FAILED", "DEAD_LETTER")
    assert h.sync.xlen(h.keys.dlq_stream) == 1 and pending_count(h.sync) == 0
    assert [o.intent_id for o in await h.processor.orders.book.open_orders()] == ["sig-7"]
