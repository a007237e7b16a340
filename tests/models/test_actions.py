"""Order actions (CANCEL, CANCEL_ALL, AMEND) and expire_after_s: what decodes, what is refused and why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.models.actions import OrderAction
from app.models.intent import Intent, InvalidIntent, decode_fields

ENTRY = "1700000000000-0"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CANCEL = {"action": "CANCEL", "intent_id": "c-1", "target_intent_id": "sig-42"}
CANCEL_ALL = {"action": "CANCEL_ALL", "intent_id": "c-2"}
AMEND = {"action": "AMEND", "intent_id": "a-1", "target_intent_id": "sig-42", "price": 90500}
LIMIT = {"intent_id": "sig-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": 0.002, "order_type": "LIMIT",
         "price": 90000}


def entries(body: dict[str, Any]) -> list[dict[str, str]]:
    """The body as a `data` entry and as a flat entry (every value a string, as redis-cli sends it)."""
    return [{"data": json.dumps(body)}, {k: str(v) for k, v in body.items()}]


def decode(fields: dict[Any, Any]) -> Intent | OrderAction | InvalidIntent:
    return decode_fields(ENTRY, fields, 65536)


def action(body: dict[str, Any]) -> OrderAction:
    parsed = [decode(fields) for fields in entries(body)]
    assert isinstance(parsed[0], OrderAction), parsed[0]
    assert parsed[0] == parsed[1], "a flat entry decodes as its data entry does"
    return parsed[0]


def refusal(body: dict[str, Any]) -> str:
    parsed = [decode(fields) for fields in entries(body)]
    for bad in parsed:
        assert isinstance(bad, InvalidIntent), bad
        assert bad.entry_id == ENTRY
    assert parsed[0].message == parsed[1].message
    return parsed[0].message


# -- valid actions ----------------------------------------------------------------------------------

def test_cancel_with_every_field() -> None:
    body = {**CANCEL, "symbol": "btcusdt", "created_at": 1767225600, "source": "ai", "strategy": "s"}
    parsed = decode({"data": json.dumps(body), "traceparent": TRACEPARENT})
    assert parsed == OrderAction(
        entry_id=ENTRY, intent_id="c-1", action="CANCEL", target_intent_id="sig-42", symbol="BTCUSDT", price=None,
        quantity=None, created_at=1767225600.0, source="ai", strategy="s", trace={"traceparent": TRACEPARENT})


def test_cancel_needs_only_its_target() -> None:
    parsed = action({"action": "CANCEL", "target_intent_id": "sig-42"})
    assert (parsed.intent_id, parsed.symbol, parsed.created_at, parsed.trace) == (f"entry:{ENTRY}", None, None, {})


@pytest.mark.parametrize("target", ["entry:1699999999999-0", 42, "x" * 128, "a:b/c"])
def test_a_target_is_any_intent_id_including_one_given_to_an_intent_sent_without_one(target: Any) -> None:
    assert action({**CANCEL, "target_intent_id": target}).target_intent_id == str(target)


def test_cancel_all_with_and_without_a_symbol() -> None:
    assert action(CANCEL_ALL).symbol is None and action(CANCEL_ALL).target_intent_id is None
    assert action({**CANCEL_ALL, "symbol": "ethusdt"}).symbol == "ETHUSDT"


@pytest.mark.parametrize(("changes", "price", "quantity"), [
    ({}, 90500, None),
    ({"price": None, "quantity": 0.003}, None, 0.003),
    ({"quantity": "3e-3"}, 90500, 0.003),
    ({"price": "90500.5", "quantity": 1e9}, 90500.5, 1e9),
])
def test_amend_takes_a_price_a_quantity_or_both(changes: dict[str, Any], price: float | None,
                                                quantity: float | None) -> None:
    body = {k: v for k, v in {**AMEND, **changes}.items() if v is not None}
    parsed = action(body)
    assert (parsed.action, parsed.target_intent_id, parsed.price, parsed.quantity) == \
        ("AMEND", "sig-42", price, quantity)


@pytest.mark.parametrize("spelling", ["cancel", "Cancel", "CANCEL", "cAnCeL"])
def test_the_action_in_any_ascii_case(spelling: str) -> None:
    assert action({**CANCEL, "action": spelling}).action == "CANCEL"
    assert action({**CANCEL_ALL, "action": spelling + "_all"}).action == "CANCEL_ALL"


@pytest.mark.parametrize("spelling", ["NEW", "new", "New"])
def test_action_new_is_a_new_order_as_without_action(spelling: str) -> None:
    plain = decode({"data": json.dumps(LIMIT)})
    for fields in entries({**LIMIT, "action": spelling}):
        assert decode(fields) == plain and isinstance(plain, Intent)


def test_new_order_fields_other_than_the_refused_ones_are_ignored_by_an_action() -> None:
    """Unknown fields are ignored, as for new orders: a side or leverage does not change a cancel."""
    assert action({**CANCEL, "side": "SELL", "leverage": 5, "order_type": "LIMIT"}) == action(CANCEL)


# -- refused actions --------------------------------------------------------------------------------

ACTION_MESSAGE = "action: must be one of NEW, CANCEL, CANCEL_ALL, AMEND"
REFUSED = [
    ("unknown action", {**CANCEL, "action": "MODIFY"}, ACTION_MESSAGE),
    ("empty action", {**CANCEL, "action": ""}, ACTION_MESSAGE),
    ("action with a space", {**CANCEL, "action": "CANCEL "}, ACTION_MESSAGE),
    ("look-alike letters", {**CANCEL, "action": "ＣＡＮＣＥＬ"}, ACTION_MESSAGE),
    ("cancel without target", {"action": "CANCEL", "intent_id": "c-1"}, "target_intent_id: required for CANCEL"),
    ("amend without target", {k: v for k, v in AMEND.items() if k != "target_intent_id"},
     "target_intent_id: required for AMEND"),
    ("cancel-all with a target", {**CANCEL_ALL, "target_intent_id": "sig-42"},
     "target_intent_id: CANCEL_ALL takes no target"),
    ("target with a space", {**CANCEL, "target_intent_id": "sig 42"},
     "target_intent_id: must be 1-128 printable ASCII characters"),
    ("target too long", {**CANCEL, "target_intent_id": "x" * 129},
     "target_intent_id: must be 1-128 printable ASCII characters"),
    ("own id reserved", {**CANCEL, "intent_id": "entry:1-0"}, "intent_id: must not start with entry:"),
    ("targets itself", {**CANCEL, "target_intent_id": "c-1"}, "target_intent_id: an action cannot target itself"),
    ("amend targets itself", {**AMEND, "target_intent_id": "a-1"}, "an action cannot target itself"),
    ("without id, targets its own entry", {"action": "CANCEL", "target_intent_id": f"entry:{ENTRY}"},
     "an action cannot target itself"),
    ("amend with nothing to change", {k: v for k, v in AMEND.items() if k != "price"},
     "an AMEND needs a new price, a new quantity, or both"),
    ("amend with notional", {**AMEND, "notional_usd": 100}, "notional_usd: an order action takes no notional"),
    ("amend with the notional alias", {**AMEND, "position_size_usd": 100}, "position_size_usd: an order action"),
    ("cancel with notional", {**CANCEL, "notional_usd": 100}, "notional_usd: an order action takes no notional"),
    ("cancel with a quantity", {**CANCEL, "quantity": 0.001}, "CANCEL withdraws whole orders; send an AMEND"),
    ("cancel with a price", {**CANCEL, "price": 90000}, "CANCEL withdraws whole orders"),
    ("cancel-all with a quantity", {**CANCEL_ALL, "quantity": 1}, "CANCEL_ALL withdraws whole orders"),
    ("amend price zero", {**AMEND, "price": 0}, "price: Input should be greater than 0"),
    ("amend negative quantity", {**AMEND, "quantity": -1}, "quantity: Input should be greater than 0"),
    ("amend quantity above 1e9", {**AMEND, "quantity": 2e9}, "quantity: Input should be less than or equal to"),
    ("amend price with a plus", {**AMEND, "price": "+90500"}, "price: must be a number in ASCII digits"),
    ("amend quantity in Arabic digits", {**AMEND, "quantity": "٣"}, "quantity: must be a number in ASCII digits"),
    ("bad symbol", {**CANCEL_ALL, "symbol": "BTC/USDT"}, "symbol: must be 2-20 ASCII letters or digits"),
    ("bad created_at", {**CANCEL, "created_at": "yesterday"}, "created_at: must be epoch seconds"),
    ("long source", {**CANCEL, "source": "x" * 129}, "source: String should have at most 128 characters"),
]


@pytest.mark.parametrize(("body", "expected"), [(b, e) for _, b, e in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_actions_say_why(body: dict[str, Any], expected: str) -> None:
    assert expected in refusal(body)


@pytest.mark.parametrize("value", [1, True, None, ["CANCEL"], {"a": 1}])
def test_an_action_that_is_not_text_is_refused(value: Any) -> None:
    bad = decode({"data": json.dumps({**CANCEL, "action": value})})
    assert isinstance(bad, InvalidIntent) and bad.message == ACTION_MESSAGE


def test_a_boolean_is_no_amend_quantity() -> None:
    bad = decode({"data": json.dumps({**AMEND, "quantity": True})})
    assert isinstance(bad, InvalidIntent) and bad.message == "quantity: must be a number, not a boolean"


def test_a_refused_action_keeps_its_id_and_symbol_for_the_result() -> None:
    bad = decode({"data": json.dumps({**CANCEL, "action": "MODIFY", "symbol": "BTCUSDT"}),
                  "traceparent": TRACEPARENT})
    assert isinstance(bad, InvalidIntent)
    assert (bad.intent_id, bad.symbol, bad.trace) == ("c-1", "BTCUSDT", {"traceparent": TRACEPARENT})
    unnamed = decode({"data": json.dumps({"action": "CANCEL", "intent_id": "entry:9-0"})})
    assert isinstance(unnamed, InvalidIntent) and unnamed.intent_id == f"entry:{ENTRY}"


def test_entry_rules_apply_to_actions_too() -> None:
    """Repeated keys, the size cap and UTF-8 are checked before the action is read."""
    repeated = decode({"data": '{"action":"CANCEL","target_intent_id":"a","target_intent_id":"b"}'})
    assert isinstance(repeated, InvalidIntent) and "target_intent_id" in repeated.message
    twice = decode({"data": '{"action":"AMEND","action":"CANCEL","target_intent_id":"a"}'})
    assert isinstance(twice, InvalidIntent) and "more than once" in twice.message
    big = decode_fields(ENTRY, {"data": json.dumps({**CANCEL, "source": "x" * 100})}, 64)
    assert isinstance(big, InvalidIntent) and "bytes, more than the 64 allowed" in big.message
    assert isinstance(decode({b"action": b"CANCEL", b"target_intent_id": b"\xff"}), InvalidIntent)


def test_a_target_on_a_new_order_is_refused() -> None:
    """A cancel or amend that lost its action must never be placed as an order."""
    assert "target_intent_id: only for the actions CANCEL and AMEND" in refusal({**LIMIT, "target_intent_id": "s"})


# -- expire_after_s -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [(300, 300), ("0.5", 0.5), (2_592_000, 2_592_000), ("1e3", 1000)])
def test_expire_after_s_on_limit_gtc(value: Any, expected: float) -> None:
    for fields in entries({**LIMIT, "expire_after_s": value, "time_in_force": "gtc"}):
        parsed = decode(fields)
        assert isinstance(parsed, Intent) and parsed.expire_after_s == expected


def test_without_expire_after_s_an_order_does_not_expire() -> None:
    parsed = decode({"data": json.dumps(LIMIT)})
    assert isinstance(parsed, Intent) and parsed.expire_after_s is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"order_type": "MARKET", "price": None}, "only for LIMIT orders with time_in_force GTC"),
    ({"time_in_force": "IOC"}, "only for LIMIT orders with time_in_force GTC"),
    ({"time_in_force": "FOK"}, "only for LIMIT orders with time_in_force GTC"),
])
def test_expire_after_s_only_on_orders_that_rest(changes: dict[str, Any], expected: str) -> None:
    body = {k: v for k, v in {**LIMIT, "expire_after_s": 60, **changes}.items() if v is not None}
    assert expected in refusal(body)


@pytest.mark.parametrize(("value", "expected"), [
    (0, "expire_after_s: Input should be greater than 0"),
    (-1, "expire_after_s: Input should be greater than 0"),
    (2_592_001, "expire_after_s: Input should be less than or equal to 2592000"),
    ("5s", "expire_after_s: must be a number in ASCII digits"),
    (True, "expire_after_s: must be a number, not a boolean"),
])
def test_expire_after_s_bounds_and_spellings(value: Any, expected: str) -> None:
    bad = decode({"data": json.dumps({**LIMIT, "expire_after_s": value})})
    assert isinstance(bad, InvalidIntent) and expected in bad.message
