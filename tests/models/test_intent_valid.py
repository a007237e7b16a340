"""Valid intents: `data` and flat entries, the position_size_usd alias, timestamps, defaults, trace context."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.models.intent import Intent, client_order_id, decode_fields

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def decode(fields: dict[Any, Any], entry_id: str = "1700000000000-0") -> Intent:
    parsed = decode_fields(entry_id, fields, 65536)
    assert isinstance(parsed, Intent), parsed
    return parsed


def test_data_entry_with_every_field() -> None:
    body = {"intent_id": "sig-2026-01-01-0001", "symbol": "ethusdt", "side": "sell", "notional_usd": 250.5,
            "leverage": 3, "order_type": "limit", "price": 3499.99, "time_in_force": "ioc", "reduce_only": True,
            "created_at": 1767225600, "source": "ai-engine", "strategy": "momentum", "confidence": 0.82,
            "unknown_extra": "ignored"}
    intent = decode({"data": json.dumps(body), "traceparent": TRACEPARENT, "tracestate": "vendor=1"})
    assert intent == Intent(
        entry_id="1700000000000-0", intent_id="sig-2026-01-01-0001", symbol="ETHUSDT", side="SELL", quantity=None,
        notional_usd=250.5, leverage=3, order_type="LIMIT", price=3499.99, time_in_force="IOC", reduce_only=True,
        created_at=1767225600.0, source="ai-engine", strategy="momentum", confidence=0.82,
        trace={"traceparent": TRACEPARENT, "tracestate": "vendor=1"},
    )
    assert intent.sign == -1


def test_defaults() -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 0.001})})
    assert intent.intent_id == "entry:1700000000000-0"
    assert (intent.leverage, intent.order_type, intent.time_in_force, intent.reduce_only) == (1, "MARKET", "GTC", False)
    assert intent.price is None and intent.created_at is None and intent.notional_usd is None
    assert intent.source is None and intent.strategy is None and intent.confidence is None
    assert intent.trace == {}
    assert intent.sign == 1


def test_flat_entry_as_redis_cli_sends_it() -> None:
    intent = decode({b"symbol": b"BTCUSDT", b"side": b"BUY", b"quantity": b"0.001", b"leverage": b"5",
                     b"reduce_only": b"false", b"intent_id": b"cli-1", b"traceparent": TRACEPARENT.encode()})
    assert (intent.intent_id, intent.symbol, intent.side, intent.quantity, intent.leverage, intent.reduce_only) == \
        ("cli-1", "BTCUSDT", "BUY", 0.001, 5, False)
    assert intent.trace == {"traceparent": TRACEPARENT}


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False), ("1", True), ("0", False),
                                                 ("True", True), ("yes", True), ("no", False)])
def test_flat_reduce_only_words(text: str, expected: bool) -> None:
    intent = decode({"symbol": "BTCUSDT", "side": "SELL", "quantity": "1", "reduce_only": text})
    assert intent.reduce_only is expected


@pytest.mark.parametrize("leverage", [5, 5.0, "5", "5.0"])
def test_whole_leverage_in_any_spelling(leverage: Any) -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "leverage": leverage})})
    assert intent.leverage == 5


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("quantity", "0.002", 0.002), ("quantity", "2e-3", 0.002), ("quantity", "2E-3", 0.002), ("quantity", "7", 7),
    ("quantity", "0.5", 0.5), ("price", "90000.10", 90000.1), ("confidence", "-0.25", -0.25),
    ("leverage", "10", 10), ("leverage", "10.0", 10), ("leverage", "1e1", 10),
    ("reduce_only", "TRUE", True), ("reduce_only", "Yes", True), ("reduce_only", "0", False),
    ("created_at", "1767225600.5", 1767225600.5), ("created_at", "2026-01-01T01:00:00.5+01:00", 1767225600.5),
    ("symbol", "btcUSDT", "BTCUSDT"), ("side", "sElL", "SELL"), ("time_in_force", "ioc", "IOC"),
])
def test_documented_spellings_in_strings(field: str, text: str, expected: Any) -> None:
    """Numbers as JSON writes them, names in any ASCII case: in a flat entry and in `data` alike."""
    body = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "order_type": "LIMIT", "price": "90000", field: text}
    for fields in (body, {"data": json.dumps(body)}):
        assert getattr(decode(fields), field) == expected


@pytest.mark.parametrize("raw", [
    '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "source": "side"}',       # a key's name as a value
    '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "source": "a\\"b\\\\"}',   # escapes, no key twice
    '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "x": [{"a": 1}, {"a": 2}], "y": {"a": {"a": 1}}}',
    '{"symbol": "BTCUSDT", "si\\u0064e": "BUY", "quantity": 1}',
])
def test_the_same_name_in_different_objects_or_places_is_no_repeated_key(raw: str) -> None:
    intent = decode({"data": raw})
    assert (intent.symbol, intent.side, intent.quantity) == ("BTCUSDT", "BUY", 1.0)


@pytest.mark.parametrize("name", ["notional_usd", "position_size_usd"])
def test_notional_and_its_alias(name: str) -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", name: 100})})
    assert intent.notional_usd == 100.0 and intent.quantity is None


def test_alias_in_a_flat_entry() -> None:
    intent = decode({"symbol": "SOLUSDT", "side": "BUY", "position_size_usd": "75.5"})
    assert intent.notional_usd == 75.5


def test_numbers_as_json_strings_are_accepted() -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.002",
                                         "confidence": "0.5"})})
    assert intent.quantity == 0.002 and intent.confidence == 0.5


def test_integer_intent_id_becomes_a_string() -> None:
    intent = decode({"data": json.dumps({"intent_id": 12345, "symbol": "BTCUSDT", "side": "BUY", "quantity": 1})})
    assert intent.intent_id == "12345"


def test_market_orders_drop_a_price() -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "price": 50000})})
    assert intent.price is None


def test_quantity_at_the_absurdity_bound_is_accepted() -> None:
    assert decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1000000000"}).quantity == 1e9


ISO_2026 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("created_at", "expected"), [
    (1767225600, ISO_2026),
    (1767225600.5, ISO_2026 + 0.5),
    (1767225600000, ISO_2026),
    (1767225600250, ISO_2026 + 0.25),
    ("1767225600", ISO_2026),
    ("1767225600000", ISO_2026),
    ("2026-01-01T00:00:00Z", ISO_2026),
    ("2026-01-01T00:00:00+00:00", ISO_2026),
    ("2026-01-01T02:00:00+02:00", ISO_2026),
    ("2026-01-01T00:00:00.250Z", ISO_2026 + 0.25),
    (None, None),
    ("", None),
])
def test_created_at_in_seconds_milliseconds_or_iso(created_at: Any, expected: float | None) -> None:
    body: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "quantity": 1}
    if created_at is not None:
        body["created_at"] = created_at
    intent = decode({"data": json.dumps(body)})
    assert intent.created_at == (None if expected is None else pytest.approx(expected))


def test_flat_created_at_milliseconds() -> None:
    intent = decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "created_at": "1767225600000"})
    assert intent.created_at == ISO_2026


def test_trace_fields_are_not_intent_fields_in_a_flat_entry() -> None:
    intent = decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "traceparent": TRACEPARENT})
    assert intent.trace == {"traceparent": TRACEPARENT}


def test_oversized_trace_context_is_dropped() -> None:
    intent = decode({"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1}),
                     "traceparent": "0" * 513})
    assert intent.trace == {}


def test_data_wins_over_flat_fields() -> None:
    intent = decode({"data": json.dumps({"symbol": "ETHUSDT", "side": "SELL", "quantity": 2}), "symbol": "BTCUSDT"})
    assert intent.symbol == "ETHUSDT"


def test_client_order_id_is_derived_from_the_intent_id() -> None:
    a = decode({"data": json.dumps({"intent_id": "x-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": 1})}, "1-0")
    b = decode({"data": json.dumps({"intent_id": "x-1", "symbol": "ETHUSDT", "side": "SELL", "quantity": 2})}, "2-0")
    assert a.client_order_id == b.client_order_id == client_order_id("x-1")


def test_client_order_id_without_an_intent_id_follows_the_entry_id() -> None:
    one = decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"}, "5-0")
    again = decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"}, "5-0")
    other = decode({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"}, "6-0")
    assert one.client_order_id == again.client_order_id != other.client_order_id


async def test_entries_read_back_from_redis_decode(aredis: aioredis.Redis) -> None:
    """What redis-py returns for a flat XADD (bytes keys and values) and for a `data` entry."""
    flat_id = await aredis.xadd("trade.intent", {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001",
                                                 "traceparent": TRACEPARENT})
    data_id = await aredis.xadd("trade.intent", {"data": json.dumps(
        {"intent_id": "r-1", "symbol": "XRPUSDT", "side": "SELL", "position_size_usd": 50})})
    entries = dict(await aredis.xrange("trade.intent"))
    flat = decode(entries[flat_id], flat_id.decode())
    assert (flat.intent_id, flat.symbol, flat.quantity, flat.trace) == \
        (f"entry:{flat_id.decode()}", "BTCUSDT", 0.001, {"traceparent": TRACEPARENT})
    data = decode(entries[data_id], data_id.decode())
    assert (data.intent_id, data.symbol, data.side, data.notional_usd) == ("r-1", "XRPUSDT", "SELL", 50.0)
