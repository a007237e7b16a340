"""Every malformed class of intent entry decodes to an InvalidIntent whose message says what was wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.models.intent import Intent, InvalidIntent, decode_fields

MAX_BYTES = 65536
GOOD = {"intent_id": "i-1", "symbol": "BTCUSDT", "side": "BUY", "quantity": 0.001}


def decode(fields: dict[Any, Any], max_bytes: int = MAX_BYTES) -> InvalidIntent:
    parsed = decode_fields("1700000000000-0", fields, max_bytes)
    assert isinstance(parsed, InvalidIntent), parsed
    assert parsed.entry_id == "1700000000000-0"
    return parsed


def data(**changes: Any) -> dict[str, str]:
    """A `data` entry: GOOD with changes (a value of None removes the field)."""
    body = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return {"data": json.dumps(body)}


def flat(**changes: Any) -> dict[str, str]:
    """A flat entry as redis-cli would write it: every value a string."""
    body = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return {k: str(v) for k, v in body.items()}


RAW_DATA = [
    ("not json", "{symbol: BTCUSDT", "data is not valid JSON"),
    ("truncated", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 0.0', "data is not valid JSON"),
    ("empty string", "", "data is not valid JSON"),
    ("array", '[{"symbol": "BTCUSDT"}]', "data must be a JSON object"),
    ("string", '"BTCUSDT BUY 1"', "data must be a JSON object"),
    ("number", "42", "data must be a JSON object"),
    ("null", "null", "data must be a JSON object"),
    ("NaN constant", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": NaN}', "NaN is not a valid number"),
    ("Infinity constant", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": Infinity}',
     "Infinity is not a valid number"),
    ("-Infinity constant", '{"symbol": "BTCUSDT", "side": "BUY", "notional_usd": -Infinity}',
     "-Infinity is not a valid number"),
    ("overflow to inf", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1e400}', "quantity: Input should be a finite"),
    ("nested arrays", '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "source": ' + "[" * 20000 + "]" * 20000 + "}",
     "data is nested too deeply"),
    ("nested objects", '{"a":' * 20000 + "1" + "}" * 20000, "data is nested too deeply"),
]


@pytest.mark.parametrize(("raw", "expected"), [(r, e) for _, r, e in RAW_DATA], ids=[c[0] for c in RAW_DATA])
def test_malformed_data(raw: str, expected: str) -> None:
    bad = decode({"data": raw}, max_bytes=1_000_000)
    assert expected in bad.message
    assert bad.intent_id == "entry:1700000000000-0"


FIELD_CASES = [
    # (id, changes, expected fragment)
    ("missing symbol", {"symbol": None}, "symbol: Field required"),
    ("missing side", {"side": None}, "side: Field required"),
    ("symbol not a string", {"symbol": 5}, "symbol: Input should be a valid string"),
    ("symbol with dash", {"symbol": "BTC-USDT"}, "symbol: must be 2-20 ASCII letters or digits"),
    ("symbol too long", {"symbol": "B" * 21}, "symbol: must be 2-20 ASCII letters or digits"),
    ("side unknown", {"side": "HOLD"}, "side: Input should be 'BUY' or 'SELL'"),
    ("side not a string", {"side": 1}, "side: Input should be 'BUY' or 'SELL'"),
    ("quantity zero", {"quantity": 0}, "quantity: Input should be greater than 0"),
    ("quantity negative", {"quantity": -0.5}, "quantity: Input should be greater than 0"),
    ("quantity absurd", {"quantity": 2e9}, "quantity: Input should be less than or equal to 1000000000"),
    ("quantity word", {"quantity": "lots"}, "quantity: must be a number in ASCII digits"),
    ("quantity list", {"quantity": [1]}, "quantity: Input should be a valid number"),
    ("quantity object", {"quantity": {"v": 1}}, "quantity: Input should be a valid number"),
    ("quantity bool", {"quantity": True}, "quantity: must be a number, not a boolean"),
    ("quantity NaN string", {"quantity": "NaN"}, "quantity: must be a number in ASCII digits"),
    ("quantity inf string", {"quantity": "inf"}, "quantity: must be a number in ASCII digits"),
    ("notional zero", {"quantity": None, "notional_usd": 0}, "notional_usd: Input should be greater than 0"),
    ("notional negative", {"quantity": None, "notional_usd": -10}, "notional_usd: Input should be greater than 0"),
    ("notional bool", {"quantity": None, "notional_usd": False}, "notional_usd: must be a number, not a boolean"),
    ("notional -inf string", {"quantity": None, "notional_usd": "-Infinity"},
     "notional_usd: must be a number in ASCII digits"),
    ("alias zero", {"quantity": None, "position_size_usd": 0}, "position_size_usd: Input should be greater than 0"),
    ("neither size", {"quantity": None}, "exactly one of quantity or notional_usd (position_size_usd) is required"),
    ("both sizes", {"notional_usd": 100}, "exactly one of quantity or notional_usd (position_size_usd) is required"),
    ("quantity and alias", {"position_size_usd": 100},
     "exactly one of quantity or notional_usd (position_size_usd) is required"),
    ("notional and alias", {"quantity": None, "notional_usd": 100, "position_size_usd": 100},
     "give notional_usd or its alias position_size_usd, not both"),
    ("limit without price", {"order_type": "LIMIT"}, "price is required for LIMIT orders"),
    ("limit price zero", {"order_type": "LIMIT", "price": 0}, "price: Input should be greater than 0"),
    ("price bool", {"order_type": "LIMIT", "price": True}, "price: must be a number, not a boolean"),
    ("price NaN string", {"order_type": "LIMIT", "price": "nan"}, "price: must be a number in ASCII digits"),
    ("order type unknown", {"order_type": "STOP_MARKET"}, "order_type: Input should be 'MARKET' or 'LIMIT'"),
    ("time in force unknown", {"time_in_force": "GTD"}, "time_in_force: Input should be 'GTC', 'IOC' or 'FOK'"),
    ("leverage fraction", {"leverage": 2.5}, "leverage: Input should be a valid integer"),
    ("leverage fraction string", {"leverage": "2.5"}, "leverage: Input should be a valid integer"),
    ("leverage zero", {"leverage": 0}, "leverage: Input should be greater than or equal to 1"),
    ("leverage above binance", {"leverage": 126}, "leverage: Input should be less than or equal to 125"),
    ("leverage bool", {"leverage": True}, "leverage: must be a number, not a boolean"),
    ("leverage word", {"leverage": "high"}, "leverage: must be a number in ASCII digits"),
    ("reduce_only 2", {"reduce_only": 2}, "reduce_only: must be true or false"),
    ("reduce_only word", {"reduce_only": "maybe"}, "reduce_only: must be true or false"),
    ("confidence bool", {"confidence": True}, "confidence: must be a number, not a boolean"),
    ("confidence NaN string", {"confidence": "NaN"}, "confidence: must be a number in ASCII digits"),
    ("source too long", {"source": "x" * 129}, "source: String should have at most 128 characters"),
    ("strategy not a string", {"strategy": ["a"]}, "strategy: Input should be a valid string"),
    ("intent id with space", {"intent_id": "has space"}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id empty", {"intent_id": ""}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id too long", {"intent_id": "x" * 129}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id non-ascii", {"intent_id": "ordre-é"}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id control char", {"intent_id": "a\tb"}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id trailing newline", {"intent_id": "abc\n"}, "intent_id: must be 1-128 printable ASCII"),
    ("intent id float", {"intent_id": 1.5}, "intent_id: must be a string"),
    ("intent id bool", {"intent_id": True}, "intent_id: must be a string"),
    ("intent id object", {"intent_id": {"id": 1}}, "intent_id: must be a string"),
    ("intent id of the reserved form", {"intent_id": "entry:1700000000000-1"}, "intent_id: must not start with entry:"),
    ("created_at word", {"created_at": "yesterday"}, "created_at: must be epoch seconds, epoch milliseconds or ISO"),
    ("created_at naive ISO", {"created_at": "2026-01-01T00:00:00"}, "created_at: ISO 8601 timestamps need a timezone"),
    ("created_at negative", {"created_at": -1}, "created_at: must be a positive finite timestamp"),
    ("created_at zero", {"created_at": 0}, "created_at: must be a positive finite timestamp"),
    ("created_at NaN string", {"created_at": "NaN"}, "created_at: must be epoch seconds, epoch milliseconds or ISO"),
    ("created_at bool", {"created_at": True}, "created_at: must be a timestamp"),
    ("created_at list", {"created_at": [1]}, "created_at: must be a positive finite timestamp"),
    ("created_at huge integer", {"created_at": 10**400}, "created_at: must be a positive finite timestamp"),
    ("quantity huge integer", {"quantity": 10**400}, "quantity: Input should be a valid number"),
    ("leverage huge integer", {"leverage": 10**400}, "leverage: Input should be less than or equal to 125"),
    ("created_at microseconds", {"created_at": 1_700_000_000_000_000},
     "created_at: must be epoch seconds, epoch milliseconds or ISO"),
    ("created_at far future ISO", {"created_at": "9999-12-31T00:00:00Z"},
     "created_at: must be epoch seconds, epoch milliseconds or ISO"),
]


@pytest.mark.parametrize(("changes", "expected"), [(c, e) for _, c, e in FIELD_CASES],
                         ids=[c[0] for c in FIELD_CASES])
def test_bad_fields_in_a_data_entry(changes: dict[str, Any], expected: str) -> None:
    bad = decode(data(**changes))
    assert expected in bad.message


# cases whose point is a JSON type a flat entry cannot express (there every value is a string)
JSON_TYPE_ONLY = {"symbol not a string", "intent id float", "reduce_only 2", "quantity huge integer"}
FLAT_CASES = [c for c in FIELD_CASES if c[0] not in JSON_TYPE_ONLY and all(
    isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in c[1].values() if v is not None)]


@pytest.mark.parametrize(("changes", "expected"), [(c, e) for _, c, e in FLAT_CASES],
                         ids=[c[0] for c in FLAT_CASES])
def test_bad_fields_in_a_flat_entry(changes: dict[str, Any], expected: str) -> None:
    """The same mistakes typed into redis-cli, where every value arrives as a string."""
    bad = decode(flat(**changes))
    assert expected in bad.message


# Look-alikes of documented values: Python reads each of them as the value (int('١٠') == 10,
# 'ſell'.upper() == 'SELL', 'matıc'.upper() == 'MATIC', strip() removes NBSP). The contract
# accepts ASCII digits and letters in the documented forms only.
LOOKALIKES = [
    ("leverage", "١٠"), ("leverage", "1_0"), ("leverage", " 5"), ("leverage", "5 "), ("leverage", "+5"),
    ("leverage", "٥"), ("leverage", "５"),
    ("quantity", "0.00_2"), ("quantity", "١٢٣"), ("quantity", " 1"), ("quantity", "1\u00a0"), ("quantity", "+1"),
    ("quantity", ".5"), ("quantity", "5."), ("quantity", "1e"), ("quantity", "0x10"), ("quantity", "１"),
    ("quantity", "1,5"), ("quantity", "01"), ("quantity", "1 000"),
    ("price", "٩٠٠٠٠"), ("confidence", "٠.٥"),
    ("created_at", "١٧٦٧٢٢٥٦٠٠"), ("created_at", "٢٠٢٦-٠١-٠١T٠٠:٠٠:٠٠Z"), ("created_at", "2026-01-01 00:00:00Z"),
    ("created_at", "20260101T000000Z"), ("created_at", "2026-01-01T00:00Z"), ("created_at", "2026-01-01T00:00:00z"),
    ("created_at", " 1767225600"), ("created_at", "1_767_225_600"), ("created_at", "2026-01-01T00:00:00+0000"),
    ("symbol", "matıcusdt"), ("symbol", "BTCUSDT "), ("symbol", " BTCUSDT"), ("symbol", "ＢＴＣUSDT"),
    ("symbol", "BTCUSDT\u00a0"),
    ("side", "ſell"), ("side", "BUY\u00a0"), ("side", "buy "), ("side", " SELL"), ("side", "ＢＵＹ"), ("side", "BUY\n"),
    ("order_type", "lımıt"), ("order_type", "LIMIT "), ("time_in_force", "ıoc"), ("time_in_force", "gtc\t"),
    ("reduce_only", "ｔrue"), ("reduce_only", " true"), ("reduce_only", "true "), ("reduce_only", "on"),
    ("reduce_only", "t"),
]


@pytest.mark.parametrize(("field", "value"), LOOKALIKES, ids=[f"{f}={v!r}" for f, v in LOOKALIKES])
@pytest.mark.parametrize("form", ["data", "flat"])
def test_lookalikes_of_documented_values_are_refused(form: str, field: str, value: str) -> None:
    changes = {**({"order_type": "LIMIT", "price": 90000} if field == "order_type" else {}), field: value}
    bad = decode(data(**changes) if form == "data" else flat(**changes))
    assert f"{field}:" in bad.message, bad.message


@pytest.mark.parametrize(("raw", "key"), [
    ('{"symbol": "BTCUSDT", "side": "BUY", "side": "SELL", "quantity": 1}', "side"),
    ('{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "quantity": 100}', "quantity"),
    ('{"intent_id": "a", "symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "intent_id": "b"}', "intent_id"),
    ('{"symbol": "BTCUSDT", "side": "BUY", "si\\u0064e": "SELL", "quantity": 1}', "side"),  # the same key, escaped
    ('{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "source": "a\\"b", "side": "SELL"}', "side"),
    ('{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "extra": {"a": 1, "a": 2}}', "a"),
    ('{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "extra": [{"a": {"b": 1, "b": 1}}]}', "b"),
    ('{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "confidence": 100000000000000000000000, "side": "SELL"}',
     "side"),  # an integer orjson cannot hold: the standard parser's path
])
def test_a_key_given_twice_is_refused_not_read_as_its_last_value(raw: str, key: str) -> None:
    bad = decode({"data": raw})
    assert bad.message == f"data gives the key {key!r} more than once"
    assert bad.intent_id == "entry:1700000000000-0"


def test_the_reserved_intent_id_form_is_neither_used_nor_salvaged() -> None:
    """An intent_id entry:<id> would be answered as a duplicate of the entry sent without an id."""
    bad = decode(data(intent_id="entry:1700000000000-1", quantity=-1))
    assert bad.intent_id == "entry:1700000000000-0"


def test_flat_cases_cover_the_string_typed_classes() -> None:
    assert len(FLAT_CASES) >= 40


def test_flat_entry_with_nan_words() -> None:
    for word in ("NaN", "nan", "inf", "-inf", "Infinity", "-Infinity", "+inf"):
        bad = decode({"symbol": "BTCUSDT", "side": "SELL", "notional_usd": word})
        assert "notional_usd: must be a number in ASCII digits" in bad.message


def test_several_problems_are_reported_together() -> None:
    bad = decode({"data": json.dumps({"symbol": "BTC/USDT", "side": "HOLD", "quantity": -1})})
    assert "symbol:" in bad.message and "side:" in bad.message and "quantity:" in bad.message


def test_empty_entry() -> None:
    bad = decode({})
    assert "symbol: Field required" in bad.message and "side: Field required" in bad.message


def test_oversized_entry_is_rejected_before_parsing() -> None:
    body = json.dumps({**GOOD, "source": "x" * 2000})
    bad = decode({"data": body}, max_bytes=1024)
    assert bad.message == f"entry is {len('data') + len(body)} bytes, more than the 1024 allowed"
    assert bad.intent_id == "entry:1700000000000-0"


def test_oversized_flat_entry() -> None:
    bad = decode({**flat(), "padding": "p" * 300}, max_bytes=256)
    assert "more than the 256 allowed" in bad.message


def test_size_counts_utf8_bytes_not_characters() -> None:
    body = json.dumps({**GOOD, "strategy": "€" * 120}, ensure_ascii=False)
    assert len(body) + 4 < 400 < len(body.encode()) + 4
    bad = decode({b"data": body.encode()}, max_bytes=400)
    assert "more than the 400 allowed" in bad.message


def test_entry_exactly_at_the_size_limit_is_decoded() -> None:
    body = json.dumps(GOOD)
    assert isinstance(decode_fields("1-0", {"data": body}, len("data") + len(body)), Intent)


@pytest.mark.parametrize("fields", [
    {b"data": b'{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "source": "\xff\xfe"}'},
    {b"symbol\xc3": b"BTCUSDT"},
    {b"symbol": b"BTC\x80USDT", b"side": b"BUY", b"quantity": b"1"},
])
def test_invalid_utf8(fields: dict[bytes, bytes]) -> None:
    bad = decode(fields)
    assert bad.message == "entry is not valid UTF-8"
    assert bad.intent_id == "entry:1700000000000-0"


def test_readable_intent_id_symbol_and_side_are_salvaged_for_the_result() -> None:
    bad = decode(data(intent_id="sig-42", symbol="ETHUSDT", side="SELL", quantity=-1))
    assert (bad.intent_id, bad.symbol, bad.side) == ("sig-42", "ETHUSDT", "SELL")


def test_unreadable_intent_id_falls_back_to_the_entry_id() -> None:
    bad = decode(data(intent_id="has space", quantity=-1))
    assert bad.intent_id == "entry:1700000000000-0"


def test_salvaged_symbol_and_side_are_clipped() -> None:
    bad = decode(data(symbol="S" * 500, side="X" * 500))
    assert bad.symbol == "S" * 32 and bad.side == "X" * 32


def test_unencodable_salvaged_strings_are_dropped() -> None:
    """A lone surrogate from a JSON escape must not reach the result, which is encoded as UTF-8."""
    bad = decode({"data": '{"symbol": "\\ud800BTC", "side": "\\udc00", "quantity": 1}'})
    assert bad.symbol is None and bad.side is None
    assert "symbol:" in bad.message


def test_trace_context_is_kept_on_invalid_intents() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    bad = decode({"data": "{oops", "traceparent": tp, "tracestate": "congo=t61rcWkgMzE"})
    assert bad.trace == {"traceparent": tp, "tracestate": "congo=t61rcWkgMzE"}


def test_message_is_bounded() -> None:
    changes = {f"f{i}": i for i in range(50)}
    bad = decode(data(symbol="?" * 100, side="?", quantity="x", leverage="y", **changes))
    assert 0 < len(bad.message) <= 500


def test_nesting_is_refused_past_a_fixed_depth_whatever_the_caller_stack() -> None:
    def entry(depth: int) -> dict[str, str]:
        extra = "[" * depth + "]" * depth
        return {"data": '{"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "extra": ' + extra + "}"}

    def deep_call(levels: int, depth: int) -> object:
        return decode_fields("1-0", entry(depth), 10**7) if levels == 0 else deep_call(levels - 1, depth)

    for stack in (0, 800):
        assert isinstance(deep_call(stack, 1000), Intent)
        refused = deep_call(stack, 1100)
        assert isinstance(refused, InvalidIntent) and refused.message == "data is nested too deeply"
