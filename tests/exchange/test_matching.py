"""PAPER matching of resting LIMIT orders against a quote, against hand-computed numbers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.exchange.base import Quote
from app.exchange.matching import allocate, crosses
from app.orders.machine import Order, OrderStatus

MAKER = D("0.0002")
QUOTE = Quote(bid=D("100.0"), ask=D("101.0"))


def order(intent_id: str, side: str, price: str, quantity: str = "1", created_ms: int = 0, **fields: object) -> Order:
    return Order(intent_id=intent_id, client_order_id=f"ex-{intent_id}", symbol="BTCUSDT", side=side,  # type: ignore[arg-type]
                 order_type="LIMIT", quantity=D(quantity), price=D(price), created_ms=created_ms, **fields)


@pytest.mark.parametrize("side,price,crossed", [
    ("BUY", "101.0", True), ("BUY", "101.5", True), ("BUY", "100.9", False),
    ("SELL", "100.0", True), ("SELL", "99.0", True), ("SELL", "100.1", False),
])
def test_buys_cross_at_or_above_the_ask_sells_at_or_below_the_bid(side: str, price: str, crossed: bool) -> None:
    assert crosses(order("a", side, price), QUOTE) is crossed


def test_market_and_final_orders_never_cross() -> None:
    market = Order(intent_id="m", client_order_id="ex-m", symbol="BTCUSDT", side="BUY", order_type="MARKET",
                   quantity=D("1"))
    assert not crosses(market, QUOTE)
    assert not crosses(order("f", "BUY", "105", status=OrderStatus.CANCELED), QUOTE)


def test_crossed_orders_fill_whole_at_their_own_price_with_the_maker_fee() -> None:
    fills = allocate([order("b", "BUY", "102.5", "0.3"), order("s", "SELL", "99.5", "2"), order("n", "BUY", "100")],
                     QUOTE, "q-1", MAKER, "USDT")
    assert set(fills) == {"b", "s"}
    buy, sell = fills["b"], fills["s"]
    assert (buy.trade_id, buy.quantity, buy.price, buy.fee_asset) == ("q-1", D("0.3"), D("102.5"), "USDT")
    assert buy.fee == D("0.00615000")  # 102.5 x 0.3 x 0.0002 = 0.00615
    assert (sell.quantity, sell.price, sell.fee) == (D("2"), D("99.5"), D("0.03980000"))  # 99.5 x 2 x 0.0002


def test_fees_are_rounded_to_eight_places() -> None:
    [fill] = allocate([order("b", "BUY", "101.37", "0.123")], QUOTE, "q", MAKER, None).values()
    assert fill.fee == D("0.00249370")  # 101.37 x 0.123 x 0.0002 = 0.0024937020


def test_quote_quantity_goes_in_price_then_time_priority_and_splits_partially() -> None:
    quote = Quote(bid=D("100"), ask=D("101"), ask_qty=D("2.5"), bid_qty=D("0.5"))
    orders = [
        order("late", "BUY", "101.5", created_ms=20),
        order("early", "BUY", "101.5", created_ms=10),
        order("best", "BUY", "103", created_ms=30),
        order("last", "BUY", "101", created_ms=1),
        order("s1", "SELL", "99", "0.4", created_ms=5),
        order("s2", "SELL", "100", "1", created_ms=1),
    ]
    fills = allocate(orders, quote, "q-2", MAKER, "USDT")
    got = {i: f.quantity for i, f in fills.items()}
    # BUY side: 2.5 shown: best 1, early 1, late 0.5, last nothing. SELL side: 0.5: s1 (lower price first) 0.4, s2 0.1
    assert got == {"best": D("1"), "early": D("1"), "late": D("0.5"), "s1": D("0.4"), "s2": D("0.1")}
    assert fills["late"].fee == D("0.01015000")  # 101.5 x 0.5 x 0.0002


def test_partially_filled_orders_get_at_most_their_remainder() -> None:
    partial = order("p", "BUY", "102", "1", status=OrderStatus.PARTIALLY_FILLED, executed_qty=D("0.7"),
                    trades={"q-0": D("0.7")})
    fills = allocate([partial], Quote(bid=D("100"), ask=D("101"), ask_qty=D("5")), "q-1", MAKER, None)
    assert fills["p"].quantity == D("0.3")


def test_fills_booked_from_the_same_quote_count_against_it() -> None:
    """Another replica booked 0.8 of this quote into the best order already: 0.7 of 1.5 is left."""
    quote = Quote(bid=D("100"), ask=D("101"), ask_qty=D("1.5"))
    booked = order("best", "BUY", "103", "2", status=OrderStatus.PARTIALLY_FILLED, executed_qty=D("0.8"),
                   trades={"q-9": D("0.8")})
    fills = allocate([booked, order("next", "BUY", "102"), order("then", "BUY", "101.5")], quote, "q-9", MAKER, None)
    assert {i: f.quantity for i, f in fills.items()} == {"next": D("0.7")}


def test_a_quote_without_quantities_fills_every_crossed_order_whole() -> None:
    fills = allocate([order(str(i), "BUY", "101", "3") for i in range(5)], QUOTE, "q", MAKER, None)
    assert len(fills) == 5 and all(f.quantity == D("3") for f in fills.values())


def test_an_exhausted_side_fills_nothing() -> None:
    quote = Quote(bid=D("100"), ask=D("101"), ask_qty=D("0"))
    assert allocate([order("b", "BUY", "105")], quote, "q", MAKER, None) == {}
