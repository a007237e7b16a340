"""Live records: an order survives the trip to Redis hash fields and back, trades and empty fields included."""

from __future__ import annotations

from decimal import Decimal as D

from app.orders.machine import Order, OrderStatus
from app.orders.record import TRADE_PREFIX, from_fields, to_fields


def as_read(order: Order) -> dict[bytes, bytes]:
    """The hash as HGETALL returns it: bytes, the trades as the script writes them (one field each)."""
    fields = {**to_fields(order), **{TRADE_PREFIX + t: f"{q:f}" for t, q in order.trades.items()}}
    return {k.encode(): v.encode() for k, v in fields.items()}


def test_a_full_order_round_trips() -> None:
    order = Order(intent_id="sig-42", client_order_id="ex-abc", symbol="BTCUSDT", side="SELL", order_type="LIMIT",
                  quantity=D("0.0250"), price=D("94000.10"), exchange_order_id="8812",
                  status=OrderStatus.PARTIALLY_FILLED, executed_qty=D("0.010"), cum_quote=D("940.001"),
                  fee=D("0.18800020"), fee_asset="USDT", seq=4, leverage=5, reduce_only=True, mode="TESTNET",
                  traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01", created_ms=1_700_000_000_123,
                  expire_at_ms=1_700_000_060_123, trades={"q-1": D("0.004"), "1796669051314-0": D("0.006")})
    assert from_fields(as_read(order)) == order


def test_none_fields_round_trip_as_empty() -> None:
    order = Order(intent_id="m-1", client_order_id="ex-m", symbol="ETHUSDT", side="BUY", order_type="MARKET",
                  quantity=D("1"))
    fields = to_fields(order)
    assert (fields["price"], fields["exchange_order_id"], fields["fee_asset"], fields["traceparent"]) == ("",) * 4
    assert not any(k.startswith(TRADE_PREFIX) for k in fields)  # trades are written one at a time by the script
    back = from_fields(as_read(order))
    assert back == order and back is not None
    assert back.price is None and back.exchange_order_id is None and back.avg_price is None and back.trades == {}


def test_numbers_are_plain_decimal_strings_lua_can_read() -> None:
    order = Order(intent_id="i", client_order_id="c", symbol="BTCUSDT", side="BUY", order_type="LIMIT",
                  quantity=D("1E-8"), price=D("1.00E+5"), cum_quote=D("0E-10"))
    fields = to_fields(order)
    assert (fields["quantity"], fields["price"], fields["cum_quote"]) == ("0.00000001", "100000", "0")
    assert (fields["reduce_only"], fields["seq"], fields["leverage"]) == ("0", "1", "1")


def test_a_missing_record_is_none() -> None:
    assert from_fields({}) is None
