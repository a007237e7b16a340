"""Order events: the fields the issue names, stable ids, fill fields only on fills."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import jsonschema
import pytest

from app.orders.events import change_event, event
from app.orders.machine import ExecutionType, Fill, Order, OrderStatus, VenueUpdate, apply

NOW = 1_767_225_600.1234  # 2026-01-01T00:00:00.123Z
FIELDS = {"event_id", "seq", "intent_id", "client_order_id", "exchange_order_id", "symbol", "side", "order_type",
          "price", "quantity", "status", "execution_type", "executed_quantity", "avg_price", "fee", "fee_asset",
          "last_fill_quantity", "last_fill_price", "trade_id", "reason", "cause_intent_id", "mode", "event_time",
          "traceparent"}
TRACE = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
ORDER = Order(intent_id="sig-42", client_order_id="ex-42", symbol="BTCUSDT", side="BUY", order_type="LIMIT",
              quantity=D("0.002"), price=D("94000"), traceparent=TRACE)


def test_a_new_order_event() -> None:
    body = event(ORDER, ExecutionType.NEW, NOW)
    assert set(body) == FIELDS
    assert (body["event_id"], body["seq"], body["status"], body["execution_type"]) == ("sig-42:1", 1, "NEW", "NEW")
    assert (body["price"], body["quantity"], body["executed_quantity"], body["avg_price"]) == (94000.0, 0.002, 0.0, None)
    assert body["last_fill_quantity"] is body["last_fill_price"] is body["trade_id"] is None
    assert body["event_time"] == "2026-01-01T00:00:00.123Z" and body["traceparent"] == TRACE
    assert body["mode"] == "PAPER" and body["exchange_order_id"] is None


def test_a_fill_event_carries_the_fill_and_the_cumulative_figures() -> None:
    fill = Fill("q-7", D("0.0015"), D("94000"), D("0.0282"), "USDT")
    change = apply(ORDER, VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED, fill=fill))
    assert change is not None
    body = change_event(change, NOW)
    assert (body["event_id"], body["seq"], body["status"], body["execution_type"]) == \
        ("sig-42:2", 2, "PARTIALLY_FILLED", "TRADE")
    assert (body["last_fill_quantity"], body["last_fill_price"], body["trade_id"]) == (0.0015, 94000.0, "q-7")
    assert (body["executed_quantity"], body["avg_price"], body["fee"], body["fee_asset"]) == \
        (0.0015, 94000.0, 0.0282, "USDT")


def test_a_cancel_event_says_why_and_which_intent_caused_it() -> None:
    update = VenueUpdate(ExecutionType.CANCELED, OrderStatus.CANCELED, reason="CANCEL_INTENT", cause_intent_id="c-1")
    change = apply(ORDER, update)
    assert change is not None
    body = change_event(change, NOW)
    assert (body["status"], body["execution_type"], body["reason"], body["cause_intent_id"]) == \
        ("CANCELED", "CANCELED", "CANCEL_INTENT", "c-1")
    assert body["last_fill_quantity"] is None and body["event_id"] == "sig-42:2"


def test_event_ids_are_the_same_for_the_same_change_and_unique_per_seq() -> None:
    update = VenueUpdate(ExecutionType.AMENDED, OrderStatus.NEW, price=D("93000"))
    first, again = apply(ORDER, update), apply(ORDER, update)
    assert first is not None and again is not None
    assert change_event(first, NOW)["event_id"] == change_event(again, NOW + 5)["event_id"] == "sig-42:2"
    assert change_event(first, NOW)["price"] == 93000.0
    ids = {event(replace(ORDER, seq=seq), ExecutionType.NEW, NOW)["event_id"] for seq in range(1, 50)}
    assert len(ids) == 49 and all(re.fullmatch(r"sig-42:[1-9][0-9]*", i) for i in ids)


SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schemas" / "order-event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
PARTIAL = apply(ORDER, VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED,
                                   fill=Fill("q-1", D("0.0005"), D("94000"), D("0.0094"), "USDT")))
assert PARTIAL is not None
STORY = [  # (name, order before, update): every kind of change the state machine makes
    ("fill", ORDER, VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED, fill=Fill("q-1", D("0.002"),
                                                                                              D("94000")))),
    ("cancel", PARTIAL.after, VenueUpdate(ExecutionType.CANCELED, OrderStatus.CANCELED, reason="CANCEL_INTENT",
                                          cause_intent_id="c-1")),
    ("expiry", ORDER, VenueUpdate(ExecutionType.EXPIRED, OrderStatus.EXPIRED, reason="EXPIRE_AFTER")),
    ("rejection", ORDER, VenueUpdate(ExecutionType.REJECTED, OrderStatus.REJECTED, reason="EXCHANGE_REJECTED")),
    ("amend", PARTIAL.after, VenueUpdate(ExecutionType.AMENDED, OrderStatus.PARTIALLY_FILLED, price=D("93000"),
                                         quantity=D("0.003"), reason="AMEND_INTENT", cause_intent_id="a-1")),
    ("acknowledgement", ORDER, VenueUpdate(ExecutionType.NEW, OrderStatus.NEW, exchange_order_id="812")),
    ("cancel the fill won", PARTIAL.after, VenueUpdate(ExecutionType.CANCELED, OrderStatus.CANCELED,
                                                       executed_qty=D("0.002"), reason="KILL_SWITCH")),
]


def test_the_first_event_of_a_resting_order_follows_the_schema() -> None:
    assert list(VALIDATOR.iter_errors(event(ORDER, ExecutionType.NEW, NOW))) == []


@pytest.mark.parametrize("before,update", [s[1:] for s in STORY], ids=[s[0] for s in STORY])
def test_every_change_event_follows_the_schema(before: Order, update: VenueUpdate) -> None:
    change = apply(before, update)
    assert change is not None
    body = change_event(change, NOW)
    assert [e.message for e in VALIDATOR.iter_errors(body)] == []
    assert set(body) == set(SCHEMA["required"])


def test_a_cancel_the_fill_won_is_a_trade_event() -> None:
    said = VenueUpdate(ExecutionType.CANCELED, OrderStatus.CANCELED, executed_qty=D("0.002"), reason="KILL_SWITCH")
    change = apply(PARTIAL.after, said)
    assert change is not None
    body = change_event(change, NOW)
    assert (body["execution_type"], body["status"], body["last_fill_quantity"], body["executed_quantity"]) == \
        ("TRADE", "FILLED", 0.0015, 0.002)
