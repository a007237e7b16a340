"""Result builders: one per kind of outcome, every field filled from the intent and the venue's report."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.codec import iso_ms
from app.exchange.base import ExecutionReport
from app.execution import results
from app.models.intent import Intent, InvalidIntent, decode_fields
from app.models.result import Reason, Result, Status

RECEIVED = 1_767_225_600.0       # 2026-01-01T00:00:00Z
NOW = RECEIVED + 0.0125


def intent(**fields: Any) -> Intent:
    body = {"intent_id": "sig-7", "symbol": "BTCUSDT", "side": "BUY", "quantity": 0.01, "leverage": 3,
            "source": "ai-engine", "strategy": "momentum", "confidence": 0.8, **fields}
    parsed = decode_fields("1767225600000-0", {"data": json.dumps(body)}, 65536)
    assert isinstance(parsed, Intent), parsed
    return parsed


def test_iso_timestamps_are_utc_with_milliseconds() -> None:
    assert iso_ms(RECEIVED) == "2026-01-01T00:00:00.000Z"
    assert iso_ms(NOW) == "2026-01-01T00:00:00.012Z"


@pytest.mark.parametrize("reason", list(Reason))
def test_status_for_every_reason(reason: Reason) -> None:
    failed = {Reason.EXCHANGE_UNAVAILABLE, Reason.DEAD_LETTER, Reason.EXCHANGE_AUTH}
    assert results.status_for(reason) is (Status.FAILED if reason in failed else Status.REJECTED)


def test_invalid_intent_result() -> None:
    bad = InvalidIntent("5-0", "sig-bad", "quantity: Input should be greater than 0", "ETHUSDT", "SELL")
    r = results.invalid(bad, "PAPER", "pod-a", RECEIVED, NOW)
    assert (r.intent_id, r.intent_entry_id, r.status, r.reason, r.message) == \
        ("sig-bad", "5-0", Status.REJECTED, Reason.INVALID_INTENT, "quantity: Input should be greater than 0")
    assert (r.mode, r.consumer, r.symbol, r.side) == ("PAPER", "pod-a", "ETHUSDT", "SELL")
    assert (r.received_at, r.executed_at, r.latency_ms) == ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.012Z",
                                                            12.5)
    assert (r.executed_quantity, r.notional_usd, r.fee, r.duplicate) == (0.0, 0.0, 0.0, False)
    assert r.client_order_id is None and r.exchange_order_id is None


def test_invalid_intent_dead_lettered_is_failed() -> None:
    bad = InvalidIntent("5-0", "entry:5-0", "data is not valid JSON: ...")
    r = results.invalid(bad, "PAPER", "pod-a", RECEIVED, NOW, Reason.DEAD_LETTER)
    assert (r.status, r.reason) == (Status.FAILED, Reason.DEAD_LETTER)


def test_denied_copies_the_intent() -> None:
    it = intent(reduce_only=True)
    r = results.denied(it, Reason.POSITION_LIMIT, "BTCUSDT position would be 1100.00 USD, above ...", "PAPER",
                       "pod-a", RECEIVED, NOW)
    assert (r.status, r.reason, r.message) == \
        (Status.REJECTED, Reason.POSITION_LIMIT, "BTCUSDT position would be 1100.00 USD, above ...")
    assert (r.intent_id, r.intent_entry_id, r.symbol, r.side, r.order_type) == \
        ("sig-7", "1767225600000-0", "BTCUSDT", "BUY", "MARKET")
    assert (r.requested_quantity, r.requested_notional_usd, r.client_order_id, r.leverage, r.reduce_only) == \
        (0.01, None, it.client_order_id, 3, True)
    assert (r.source, r.strategy, r.confidence) == ("ai-engine", "momentum", 0.8)
    assert r.executed_quantity == 0 and r.exchange_order_id is None


def test_denied_with_the_sized_quantity_of_a_notional_intent() -> None:
    r = results.denied(intent(quantity=None, notional_usd=1000), Reason.EXCHANGE_FILTER, "Filter failure: LOT_SIZE",
                       "PAPER", "pod-a", RECEIVED, NOW, requested_quantity=0.009)
    assert (r.requested_quantity, r.requested_notional_usd) == (0.009, 1000.0)


def test_denied_as_unavailable_is_failed() -> None:
    r = results.denied(intent(), Reason.EXCHANGE_UNAVAILABLE, "no price", "PAPER", "pod-a", RECEIVED, NOW)
    assert r.status == Status.FAILED


def filled_report(**changes: Any) -> ExecutionReport:
    base: dict[str, Any] = dict(status=Status.FILLED, executed_qty=D("0.01"), avg_price=D("100010"),
                                quote_qty=D("1000.1"), fee=D("0.40004"), fee_asset="USDT", exchange_order_id="42",
                                raw_status="FILLED")
    return ExecutionReport(**{**base, **changes})


def test_executed_fill() -> None:
    it = intent()
    r = results.executed(it, 0.01, filled_report(), "PAPER", "pod-a", RECEIVED, NOW)
    assert (r.status, r.reason, r.message) == (Status.FILLED, None, "filled 0.01 at 100010")
    assert (r.executed_quantity, r.avg_price, r.notional_usd, r.fee, r.fee_asset, r.exchange_order_id) == \
        (0.01, 100010.0, 1000.1, 0.40004, "USDT", "42")
    assert (r.requested_quantity, r.client_order_id, r.exchange_code, r.exchange_message) == \
        (0.01, it.client_order_id, None, None)
    assert r.is_fill


def test_executed_partial_fill_gets_a_reason() -> None:
    report = filled_report(status=Status.PARTIALLY_FILLED, executed_qty=D("0.004"), quote_qty=D("400.04"),
                           raw_status="PARTIALLY_FILLED")
    r = results.executed(intent(), 0.01, report, "TESTNET", "pod-a", RECEIVED, NOW)
    assert (r.status, r.reason, r.executed_quantity, r.requested_quantity) == \
        (Status.PARTIALLY_FILLED, Reason.PARTIAL_FILL, 0.004, 0.01)
    assert r.is_fill


def test_executed_resting_limit_order_has_no_average_price() -> None:
    report = ExecutionReport(status=Status.NEW, reason=Reason.ORDER_OPEN, raw_status="NEW",
                             message="LIMIT order rests on the book", exchange_order_id="43")
    r = results.executed(intent(order_type="LIMIT", price=90000), 0.01, report, "PAPER", "pod-a", RECEIVED, NOW)
    assert (r.status, r.reason, r.avg_price, r.executed_quantity, r.exchange_order_id) == \
        (Status.NEW, Reason.ORDER_OPEN, None, 0.0, "43")
    assert r.message == "LIMIT order rests on the book" and not r.is_fill


def test_executed_exchange_rejection_carries_the_exchange_code_and_message() -> None:
    report = ExecutionReport.rejected(Reason.INSUFFICIENT_BALANCE, "Margin is insufficient.", -2019)
    r = results.executed(intent(), 0.01, report, "PAPER", "pod-a", RECEIVED, NOW)
    assert (r.status, r.reason, r.message, r.exchange_code, r.exchange_message) == \
        (Status.REJECTED, Reason.INSUFFICIENT_BALANCE, "Margin is insufficient.", -2019, "Margin is insufficient.")
    assert r.avg_price is None


def test_executed_without_a_message_falls_back_to_the_status() -> None:
    report = ExecutionReport(status=Status.REJECTED, reason=Reason.ORDER_CANCELED, raw_status="EXPIRED")
    assert results.executed(intent(), 0.01, report, "PAPER", "c", RECEIVED, NOW).message == "EXPIRED"


def test_duplicate_keeps_the_original_outcome() -> None:
    original = results.executed(intent(), 0.01, filled_report(), "PAPER", "pod-a", RECEIVED, NOW)
    later = RECEIVED + 60
    dup = results.duplicate(original.model_dump_json(), "1767225660000-0", later, later + 0.002)
    assert dup.duplicate is True
    assert dup.intent_entry_id == "1767225660000-0"
    assert (dup.received_at, dup.latency_ms) == ("2026-01-01T00:01:00.000Z", 2.0)
    assert dup.message == "duplicate of an intent already answered: filled 0.01 at 100010"
    unchanged = {"intent_id", "status", "reason", "symbol", "side", "executed_quantity", "avg_price", "notional_usd",
                 "fee", "fee_asset", "exchange_order_id", "client_order_id", "executed_at", "mode", "consumer"}
    assert {k: getattr(dup, k) for k in unchanged} == {k: getattr(original, k) for k in unchanged}


def test_duplicate_of_a_rejection_stays_a_rejection() -> None:
    original = results.denied(intent(), Reason.LEVERAGE_LIMIT, "leverage 11x is above the 10x limit", "PAPER",
                              "pod-a", RECEIVED, NOW)
    dup = results.duplicate(original.model_dump_json(), "9-0", NOW, NOW)
    assert (dup.status, dup.reason, dup.duplicate) == (Status.REJECTED, Reason.LEVERAGE_LIMIT, True)
    assert dup.message == "duplicate of an intent already answered: leverage 11x is above the 10x limit"


def test_duplicate_of_an_original_without_a_message() -> None:
    original = Result(intent_id="x", intent_entry_id="1-0", status=Status.FILLED, mode="PAPER",
                      received_at="2026-01-01T00:00:00.000Z", executed_at="2026-01-01T00:00:00.000Z", latency_ms=0)
    assert results.duplicate(original.model_dump_json(), "2-0", NOW, NOW).message == \
        "duplicate of an intent already answered"


def test_results_round_trip_through_json() -> None:
    r = results.executed(intent(), 0.01, filled_report(), "PAPER", "pod-a", RECEIVED, NOW)
    data = json.loads(r.model_dump_json())
    assert data["status"] == "FILLED" and data["reason"] is None and data["duplicate"] is False
    assert Result.model_validate(data) == r


# text that a JSON escape can produce, lone surrogates included
TEXT = st.text(alphabet=st.characters() | st.sampled_from(["\ud800", "\udfff", "\x00"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["intent_id", "symbol", "side", "quantity", "notional_usd", "x"]),
                       TEXT | st.integers() | st.floats() | st.booleans() | st.none(), max_size=6))
@example({"symbol": "\ud800BTC", "side": "\udfff", "quantity": -1})
def test_every_invalid_intent_yields_a_publishable_result(body: dict[str, Any]) -> None:
    """Whatever a producer sends, the result can be encoded for the stream (else the entry is a poison)."""
    parsed = decode_fields("1-0", {"data": json.dumps(body)}, 65536)
    if isinstance(parsed, InvalidIntent):
        r = results.invalid(parsed, "PAPER", "c", RECEIVED, NOW)
        encoded = r.model_dump_json().encode("utf-8")
        assert Result.model_validate_json(encoded) == r


def test_results_are_written_in_declaration_order() -> None:
    report = ExecutionReport(status=Status.FILLED, executed_qty=D("0.01"), avg_price=D("100"))
    built = [results.executed(intent(), 0.01, report, "PAPER", "c", RECEIVED, NOW),
             results.denied(intent(), Reason.POSITION_LIMIT, "too big", "PAPER", "c", RECEIVED, NOW),
             results.invalid(InvalidIntent("5-0", "x", "bad"), "PAPER", "c", RECEIVED, NOW)]
    for r in built:
        assert list(json.loads(r.model_dump_json())) == list(Result.model_fields)
