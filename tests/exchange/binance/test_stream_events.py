"""Binance user-data order events → VenueUpdate (app/exchange/binance/stream_events.py), in both documented shapes."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from app.config import Market
from app.exchange.binance.stream_events import event_type, parse, venue_update
from app.orders.machine import ExecutionType, Order, OrderStatus, apply


def live(quantity: str = "1", executed: str = "0", **kw: Any) -> Order:
    return Order("intent-1", "ex-1", "BTCUSDT", "BUY", "LIMIT", D(quantity), price=D("100"),
                 executed_qty=D(executed), **kw)


def body(x: str, status: str, **fields: Any) -> dict[str, Any]:
    doc = {"s": "BTCUSDT", "c": "ex-1", "S": "BUY", "o": "LIMIT", "q": "1", "p": "100", "x": x, "X": status,
           "i": 42, "l": "0", "z": "0", "L": "0", "n": "0", "N": None, "t": -1, "T": 1700000000000}
    doc.update(fields)
    return doc


def spot(x: str, status: str, wrapped: bool = True, **fields: Any) -> dict[str, Any]:
    event = {"e": "executionReport", "E": 1700000000001, **body(x, status, **fields)}
    return {"subscriptionId": 0, "event": event} if wrapped else event


def usdm(x: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"e": "ORDER_TRADE_UPDATE", "E": 1700000000001, "T": 1700000000000,
            "o": {**body(x, status, **fields), "rp": fields.get("rp", "0")}}


def update_of(message: dict[str, Any], order: Order | None = None, market: Market = Market.USDM, **kw: Any):
    event = parse(message)
    assert event is not None
    return venue_update(event, order or live(), market, "BTC", "USDT", **kw)


@pytest.mark.parametrize("message", [spot("NEW", "NEW"), spot("NEW", "NEW", wrapped=False), usdm("NEW", "NEW")])
def test_both_shapes_parse_to_the_same_event(message: dict[str, Any]) -> None:
    event = parse(message)
    assert event is not None
    assert (event.client_order_id, event.symbol, event.order_id, event.execution_type, event.status) == (
        "ex-1", "BTCUSDT", "42", "NEW", "NEW")
    assert event.event_ms == 1700000000001
    assert event_type(message) in ("executionReport", "ORDER_TRADE_UPDATE")


@pytest.mark.parametrize("message", [
    {"e": "outboundAccountPosition", "B": []}, {"e": "ACCOUNT_UPDATE", "a": {}}, {"e": "listenKeyExpired"},
    {"e": "ORDER_TRADE_UPDATE"}, {"e": "executionReport", "x": "NEW"}, {},
])
def test_other_events_are_not_order_events(message: dict[str, Any]) -> None:
    assert parse(message) is None


def test_listen_key_expired_is_recognised_in_either_wrapping() -> None:
    assert event_type({"e": "listenKeyExpired"}) == "listenKeyExpired"
    assert event_type({"subscriptionId": 1, "event": {"e": "eventStreamTerminated"}}) == "eventStreamTerminated"


@pytest.mark.parametrize("make", [spot, usdm])
def test_a_trade_is_a_fill_under_binances_trade_id_with_the_cumulative_quantity(make) -> None:
    update, unvalued = update_of(make("TRADE", "PARTIALLY_FILLED", l="0.4", z="0.4", L="100", t=7, n="0.04",
                                      N="USDT"))
    assert unvalued == []
    assert update.execution_type is ExecutionType.TRADE and update.status is OrderStatus.PARTIALLY_FILLED
    assert update.executed_qty == D("0.4") and update.exchange_order_id == "42"
    fill = update.fill
    assert (fill.trade_id, fill.quantity, fill.price, fill.fee, fill.fee_asset) == ("7", D("0.4"), D("100"),
                                                                                    D("0.04"), "USDT")


def test_the_last_trade_alone_fills_the_order() -> None:
    update, _ = update_of(usdm("TRADE", "FILLED", l="0.6", z="1", L="101", t=8))
    assert apply(live(), update).after.status is OrderStatus.FILLED


def test_the_last_trade_fills_the_order() -> None:
    update, _ = update_of(usdm("TRADE", "FILLED", l="0.6", z="1", L="101", t=8))
    change = apply(live(executed="0.4", trades={"7": D("0.4")}), update)
    assert change.after.status is OrderStatus.FILLED and change.fill.quantity == D("0.6")
    assert change.after.fee == 0


def test_a_commission_in_the_base_asset_is_valued_at_the_fill_price() -> None:
    update, unvalued = update_of(spot("TRADE", "FILLED", l="1", z="1", L="100", t=9, n="0.001", N="BTC"),
                                 market=Market.SPOT)
    assert unvalued == [] and update.fill.fee == D("0.1") and update.fill.fee_asset == "USDT"


def test_a_commission_in_bnb_is_valued_at_the_given_price_else_listed_unvalued() -> None:
    message = spot("TRADE", "FILLED", l="1", z="1", L="100", t=9, n="0.0002", N="BNB")
    update, unvalued = update_of(message, market=Market.SPOT)
    assert unvalued == ["BNB"] and update.fill.fee == 0 and update.fill.fee_asset is None
    update, unvalued = update_of(message, market=Market.SPOT, prices={"BNB": D("500")})
    assert unvalued == [] and update.fill.fee == D("0.1")


def test_a_fill_booked_by_polling_is_not_booked_again_from_the_stream() -> None:
    polled = live(executed="0.4", trades={"42:0.4": D("0.4")})
    update, _ = update_of(usdm("TRADE", "PARTIALLY_FILLED", l="0.4", z="0.4", L="100", t=7))
    assert apply(polled, update) is None


def test_a_duplicated_or_late_trade_books_nothing() -> None:
    first, _ = update_of(usdm("TRADE", "PARTIALLY_FILLED", l="0.4", z="0.4", L="100", t=7))
    second, _ = update_of(usdm("TRADE", "PARTIALLY_FILLED", l="0.3", z="0.7", L="100", t=8))
    after_second = apply(live(), second).after  # the later event came first: books the gap to 0.7
    assert after_second.executed_qty == D("0.7") and after_second.trades == {"8": D("0.7")}
    assert apply(after_second, first) is None
    assert apply(apply(live(), first).after, first) is None


@pytest.mark.parametrize("x, status, kind, final", [
    ("CANCELED", "CANCELED", ExecutionType.CANCELED, OrderStatus.CANCELED),
    ("EXPIRED", "EXPIRED", ExecutionType.EXPIRED, OrderStatus.EXPIRED),
    ("TRADE_PREVENTION", "EXPIRED_IN_MATCH", ExecutionType.EXPIRED, OrderStatus.EXPIRED),
    ("REJECTED", "REJECTED", ExecutionType.REJECTED, OrderStatus.REJECTED),
])
@pytest.mark.parametrize("make", [spot, usdm])
def test_an_end_carries_the_cumulative_quantity(make, x: str, status: str, kind: ExecutionType,
                                                final: OrderStatus) -> None:
    update, _ = update_of(make(x, status, z="0.25"))
    assert (update.execution_type, update.status, update.executed_qty) == (kind, final, D("0.25"))
    change = apply(live(), update)
    assert change.after.status is final and change.after.executed_qty == D("0.25")  # a fill that raced it


def test_new_brings_the_exchange_order_id() -> None:
    update, _ = update_of(usdm("NEW", "NEW"))
    assert apply(live(), update).after.exchange_order_id == "42"
    assert apply(live(exchange_order_id="42"), update) is None


def test_a_usdm_modify_is_an_amend_of_price_and_quantity() -> None:
    update, _ = update_of(usdm("AMENDMENT", "NEW", q="2", p="99"))
    change = apply(live(), update)
    assert (change.after.quantity, change.after.price, change.reserved) == (D("2"), D("99"), D("1"))


@pytest.mark.parametrize("message", [spot("REPLACED", "NEW"), usdm("CALCULATED", "FILLED"),
                                     usdm("TRADE", "PARTIALLY_FILLED", l="0", z="0", t=7),
                                     usdm("TRADE", "PARTIALLY_FILLED", l="1", z="1", L="100")])
def test_events_without_anything_to_book_give_none(message: dict[str, Any]) -> None:
    assert update_of(message)[0] is None


def test_a_spot_order_replaced_counts_what_the_chain_carried() -> None:
    """An order of 1 that filled 0.4 and was replaced by a Binance order of 0.6: the new one's z is its own."""
    chained = live(executed="0.4", trades={"old:0.4": D("0.4")})
    update, _ = update_of(spot("TRADE", "FILLED", q="0.6", l="0.6", z="0.6", L="100", t=11), chained,
                          market=Market.SPOT)
    assert update.executed_qty == D("1")
    assert apply(chained, update).after.status is OrderStatus.FILLED


def test_usdm_realized_profit_is_read() -> None:
    event = parse(usdm("TRADE", "FILLED", l="1", z="1", L="100", t=3, rp="1.25"))
    assert event.realized_pnl == D("1.25") and event.trade_id == "3"
