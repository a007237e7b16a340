"""The pipeline end to end in one process: results, state, idempotency, the contract's bad inputs."""

from __future__ import annotations

import json
import time

from app.bus.delivery import Delivery
from tests.execution.conftest import Harness
from tests.utils.reservations import sides
from tests.utils.streams import by_entry, intent, pending_count, publish, publish_raw, results


async def test_valid_intent_fills_and_records_everything(harness: Harness) -> None:
    body = intent("BTCUSDT", "BUY", quantity=0.002, leverage=3, strategy="s1", confidence=0.7, source="ai")
    [entry_id] = publish(harness.sync, body)
    await harness.consumer().burst()

    [result] = results(harness.sync)
    assert result["status"] == "FILLED" and result["reason"] is None
    assert result["intent_id"] == body["intent_id"] and result["intent_entry_id"] == entry_id
    assert result["executed_quantity"] == 0.002 and result["leverage"] == 3
    assert (result["strategy"], result["confidence"], result["source"]) == ("s1", 0.7, "ai")
    assert result["client_order_id"].startswith("ex-") and result["exchange_order_id"] == "1"
    assert result["fee_asset"] == "USDT" and result["fee"] > 0 and result["duplicate"] is False
    # state: position, trade, order record, counters; the entry is acknowledged
    [position] = await harness.store.positions()
    assert position["qty"] == 0.002 and position["avg_entry"] == result["avg_price"]
    [trade] = await harness.store.trades(10)
    assert trade["intent_id"] == body["intent_id"] and trade["price"] == result["avg_price"]
    order = await harness.store.order(body["intent_id"])
    assert order is not None and order["state"] == "DONE" and order["result"]["status"] == "FILLED"
    assert (await harness.store.counters())["filled"] == 1
    assert pending_count(harness.sync) == 0
    assert not harness.sync.smembers(harness.keys.inflight)
    assert sides(harness.sync.hgetall(harness.keys.reserved)) == (0, 0)


async def test_notional_intent_is_converted_at_the_ask_and_rounded_down(harness: Harness) -> None:
    publish(harness.sync, intent("ETHUSDT", "BUY", quantity=None, notional_usd=100.0) | {"quantity": None})
    await harness.consumer().burst()
    [result] = results(harness.sync)
    assert result["status"] == "FILLED", result
    # ask = 3500 * (1 + 0.5 bps) = 3500.175; 100 / 3500.175 = 0.02857... -> step 0.001 -> 0.028
    assert result["executed_quantity"] == 0.028
    assert result["requested_notional_usd"] == 100.0


async def test_a_limit_order_priced_through_the_market_is_held_to_the_position_limit(harness: Harness) -> None:
    """0.011 BTC limited at 90,300 is 993.30 USD at its price, inside the 1,000 USD limit and the
    exchange's price band, but it would fill at the bid (~95,000): 1,044.95 USD."""
    [entry_id] = publish(harness.sync, intent("BTCUSDT", "SELL", quantity=0.011, order_type="LIMIT", price=90_300,
                                              time_in_force="IOC"))
    await harness.consumer().burst()
    [result] = results(harness.sync)
    assert (result["status"], result["reason"], result["executed_quantity"]) == ("REJECTED", "POSITION_LIMIT", 0.0)
    assert "position would be 1044.95 USD" in result["message"], result["message"]
    assert await harness.store.positions() == [] and harness.paper_orders() == 0


async def test_intents_dated_in_the_future_are_refused(harness: Harness) -> None:
    """A created_at ahead of the clock would never expire: an hour ahead, or the year 4000."""
    ahead = [intent(created_at=time.time() + 3600), intent(created_at="4000-01-01T00:00:00Z")]
    *far, near = publish(harness.sync, *ahead, intent(created_at=time.time() + 1))
    await harness.consumer().burst()
    grouped = by_entry(results(harness.sync))
    for entry_id in far:
        [result] = grouped[entry_id]
        assert (result["status"], result["reason"]) == ("REJECTED", "INTENT_FROM_FUTURE"), result
        assert "ahead of the service's clock, more than MAX_CLOCK_SKEW_S=5" in result["message"]
    assert grouped[near][0]["status"] == "FILLED", grouped[near]
    assert harness.paper_orders() == 1


MALFORMED = [
    ({"data": "{not json"}, "not valid JSON"),
    ({"data": "[1, 2]"}, "JSON object"),
    ({"data": json.dumps({"side": "BUY", "quantity": 1})}, "symbol"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "HOLD", "quantity": 1})}, "side"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": "lots"})}, "quantity"),
    ({"data": '{"symbol": "BTCUSDT", "side": "BUY", "quantity": NaN}'}, "NaN"),
    ({"data": '{"symbol": "BTCUSDT", "side": "BUY", "quantity": Infinity}'}, "Infinity"),
    ({"symbol": "BTCUSDT", "side": "BUY", "quantity": "inf"}, "quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 0})}, "quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": -1})}, "quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1e30})}, "quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY"})}, "exactly one of quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "notional_usd": 5})}, "exactly one"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "order_type": "LIMIT"})}, "price"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": True})}, "boolean"),
    ({"data": "[" * 100_000 + "]" * 100_000}, "bytes"),
    ({"data": "[" * 5000 + "]" * 5000}, "nested"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "pad": "x" * 70_000})}, "bytes"),
    ({b"data": b"\xff\xfe"}, "UTF-8"),
    ({"data": json.dumps({"symbol": "BTC/USDT", "side": "BUY", "quantity": 1})}, "symbol"),
    ({"data": '{"symbol": "BTCUSDT", "side": "BUY", "side": "SELL", "quantity": 0.002}'}, "'side' more than once"),
    ({"data": json.dumps({"symbol": "matıcusdt", "side": "BUY", "quantity": 10}, ensure_ascii=False)}, "symbol"),
    ({"symbol": "BTCUSDT", "side": "ſell", "quantity": "0.002"}, "side"),
    ({"symbol": "BTCUSDT", "side": "BUY\u00a0", "quantity": "0.002"}, "side"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.00_2"})}, "quantity"),
    ({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 0.002, "leverage": "١٠"})}, "leverage"),
]


async def test_every_malformed_entry_gets_exactly_one_rejection_and_the_service_goes_on(harness: Harness) -> None:
    ids = [publish_raw(harness.sync, fields) for fields, _ in MALFORMED]
    [good] = publish(harness.sync, intent())
    await harness.consumer().burst()

    grouped = by_entry(results(harness.sync))
    assert set(grouped) == {*ids, good}
    for entry_id, (_, expected) in zip(ids, MALFORMED):
        [result] = grouped[entry_id]
        assert (result["status"], result["reason"]) == ("REJECTED", "INVALID_INTENT")
        assert expected in result["message"], (expected, result["message"])
        assert result["intent_id"] == f"entry:{entry_id}"
    assert grouped[good][0]["status"] == "FILLED"
    assert pending_count(harness.sync) == 0


async def test_an_intent_id_of_the_form_given_to_intents_without_one_is_refused(harness: Harness) -> None:
    """entry:<id> was answered as a duplicate of that other entry; the prefix is reserved."""
    [anonymous] = publish(harness.sync, intent() | {"intent_id": None})
    await harness.consumer().burst()
    [posing] = publish(harness.sync, intent(side="SELL", intent_id=f"entry:{anonymous}"))
    await harness.consumer().burst()
    grouped = by_entry(results(harness.sync))
    assert grouped[anonymous][0]["intent_id"] == f"entry:{anonymous}"
    [refused] = grouped[posing]
    assert (refused["status"], refused["reason"], refused["duplicate"]) == ("REJECTED", "INVALID_INTENT", False)
    assert "intent_id: must not start with entry:" in refused["message"]
    assert refused["intent_id"] == f"entry:{posing}"
    assert harness.paper_orders() == 1


async def test_unknown_and_disallowed_symbols_are_rejected_with_their_reasons(harness: Harness) -> None:
    not_allowed, = publish(harness.sync, intent("PEPEUSDT"))
    await harness.consumer().burst()
    [result] = results(harness.sync)
    assert result["intent_entry_id"] == not_allowed
    assert (result["status"], result["reason"]) == ("REJECTED", "SYMBOL_NOT_ALLOWED")


async def test_same_intent_id_twice_places_one_order_and_republishes_the_outcome(harness: Harness) -> None:
    body = intent()
    first, second = publish(harness.sync, body, body)
    await harness.consumer().burst()
    third, = publish(harness.sync, body)
    await harness.consumer().burst()

    grouped = by_entry(results(harness.sync))
    original = grouped[first][0]
    assert original["duplicate"] is False and original["status"] == "FILLED"
    for entry_id in (second, third):
        [dup] = grouped[entry_id]
        assert dup["duplicate"] is True and dup["status"] == "FILLED"
        assert dup["exchange_order_id"] == original["exchange_order_id"]
        assert dup["executed_quantity"] == original["executed_quantity"]
    assert harness.paper_orders() == 1
    [position] = await harness.store.positions()
    assert position["qty"] == 0.002
    assert (await harness.store.counters())["duplicates"] == 2


async def test_an_answered_entry_seen_again_is_acknowledged_without_a_second_result(harness: Harness) -> None:
    body = intent()
    [entry_id] = publish(harness.sync, body)
    await harness.consumer().burst()
    fields = {b"data": json.dumps(body).encode()}
    acked = await harness.processor.process([Delivery(entry_id, fields, deliveries=2)])
    assert acked == 1
    assert len(results(harness.sync)) == 1 and harness.paper_orders() == 1


async def test_a_rejection_is_recorded_and_a_resend_gets_it_as_duplicate(harness: Harness) -> None:
    body = intent("BTCUSDT", leverage=50)
    publish(harness.sync, body, body)
    await harness.consumer().burst()  # the second entry waits while the first is in flight
    await harness.consumer().burst()
    first, second = results(harness.sync)
    assert (first["reason"], first["duplicate"]) == ("LEVERAGE_LIMIT", False)
    assert (second["reason"], second["duplicate"]) == ("LEVERAGE_LIMIT", True)
    assert harness.paper_orders() == 0
