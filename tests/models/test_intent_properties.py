"""Properties of decoding: total over arbitrary input, faithful for well-formed input; client order ids."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.models.intent import Intent, InvalidIntent, client_order_id, decode_fields, repeated_key

FIELDS = ["data", "intent_id", "symbol", "side", "quantity", "notional_usd", "position_size_usd", "leverage",
          "order_type", "price", "time_in_force", "reduce_only", "created_at", "source", "strategy", "confidence",
          "traceparent", "tracestate"]
COID = re.compile(r"[A-Za-z0-9_-]{1,36}")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(FIELDS) | st.text(max_size=12) | st.binary(max_size=12)
raw_values = st.text(max_size=40) | st.binary(max_size=40) | st.integers() | st.floats() | \
    st.sampled_from(["BTCUSDT", "BUY", "SELL", "0.001", "NaN", "inf", "-1", "1e400", "LIMIT", "true", "{"])


def check_total(entry_id: str, fields: dict[Any, Any]) -> Intent | InvalidIntent:
    parsed = decode_fields(entry_id, fields, 4096)
    assert isinstance(parsed, (Intent, InvalidIntent))
    assert parsed.entry_id == entry_id
    assert parsed.intent_id and parsed.intent_id.isascii()
    if isinstance(parsed, InvalidIntent):
        assert parsed.message
    else:
        assert (parsed.quantity is None) != (parsed.notional_usd is None)
        assert parsed.side in ("BUY", "SELL") and parsed.order_type in ("MARKET", "LIMIT")
    return parsed


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, raw_values, max_size=8))
def test_arbitrary_field_maps_never_raise(fields: dict[Any, Any]) -> None:
    check_total("1-0", fields)


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS[1:]) | st.text(max_size=8), json_values, max_size=10))
def test_arbitrary_json_objects_in_data_never_raise(body: dict[str, Any]) -> None:
    check_total("2-0", {"data": json.dumps(body)})


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_arbitrary_json_documents_never_raise(document: Any) -> None:
    parsed = check_total("3-0", {"data": json.dumps(document)})
    if not isinstance(document, dict):
        assert isinstance(parsed, InvalidIntent)
        assert parsed.message == "data must be a JSON object" or parsed.message.endswith("is not a valid number")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_in_data_never_raise(blob: bytes) -> None:
    check_total("4-0", {b"data": blob})


offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(timezone)
timestamps = (st.integers() | st.integers(10**300, 10**400) | st.floats() | st.text(max_size=30) | st.booleans()
              | st.datetimes(timezones=offsets).map(datetime.isoformat)
              | st.datetimes(timezones=offsets).map(lambda d: d.timestamp() * 1000))


@settings(max_examples=200, deadline=None)
@given(timestamps, st.booleans())
def test_any_created_at_is_accepted_or_refused_never_raised(created_at: Any, flat: bool) -> None:
    body = {"symbol": "BTCUSDT", "side": "BUY", "quantity": 1, "created_at": created_at}
    fields = {k: str(v) for k, v in body.items()} if flat else {"data": json.dumps(body)}
    parsed = check_total("7-0", fields)
    if isinstance(parsed, Intent) and parsed.created_at is not None:
        assert parsed.created_at <= 1e11


finite_positive = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
intents = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "1000PEPEUSDT"]),
        "side": st.sampled_from(["BUY", "SELL"]),
        "leverage": st.integers(1, 125),
        "reduce_only": st.booleans(),
    },
    optional={
        "intent_id": st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)
        .filter(lambda i: not i.startswith("entry:")),
        "created_at": st.integers(1_000_000_000, 4_000_000_000),
        "source": st.text(max_size=128),
        "confidence": st.floats(0, 1),
    },
).flatmap(lambda base: st.one_of(
    st.builds(lambda q: {**base, "quantity": q}, finite_positive),
    st.builds(lambda n: {**base, "notional_usd": n}, finite_positive),
    st.builds(lambda n: {**base, "position_size_usd": n}, finite_positive),
).flatmap(lambda sized: st.one_of(
    st.just(sized),
    st.builds(lambda p, tif: {**sized, "order_type": "LIMIT", "price": p, "time_in_force": tif},
              finite_positive, st.sampled_from(["GTC", "IOC", "FOK"])),
)))


def expect_faithful(body: dict[str, Any], parsed: Intent | InvalidIntent) -> None:
    assert isinstance(parsed, Intent), parsed
    assert parsed.symbol == body["symbol"] and parsed.side == body["side"]
    assert parsed.leverage == body["leverage"] and parsed.reduce_only == body["reduce_only"]
    assert parsed.quantity == body.get("quantity")
    assert parsed.notional_usd == body.get("notional_usd", body.get("position_size_usd"))
    assert parsed.order_type == body.get("order_type", "MARKET")
    assert parsed.price == body.get("price")
    assert parsed.intent_id == body.get("intent_id", f"entry:{parsed.entry_id}")
    assert parsed.created_at == body.get("created_at")


@settings(max_examples=200, deadline=None)
@given(intents)
def test_well_formed_data_entries_decode_faithfully(body: dict[str, Any]) -> None:
    expect_faithful(body, decode_fields("5-0", {"data": json.dumps(body)}, 65536))


@settings(max_examples=200, deadline=None)
@given(intents)
def test_well_formed_flat_entries_decode_faithfully(body: dict[str, Any]) -> None:
    fields = {k.encode(): (json.dumps(v) if isinstance(v, bool) else repr(v) if isinstance(v, float) else str(v))
              .encode() for k, v in body.items()}
    expect_faithful(body, decode_fields("6-0", fields, 65536))


objects = st.dictionaries(st.text(max_size=8), json_values.filter(lambda v: not isinstance(v, float) or v == v),
                          min_size=1, max_size=6)


def members(obj: dict[str, Any], ascii_only: bool) -> list[str]:
    return [json.dumps(k, ensure_ascii=ascii_only) + ":" + json.dumps(v, ensure_ascii=ascii_only)
            for k, v in obj.items()]


@settings(max_examples=300, deadline=None)
@given(objects, st.booleans())
def test_an_object_without_a_repeated_key_is_passed(obj: dict[str, Any], ascii_only: bool) -> None:
    raw = "{" + ",".join(members(obj, ascii_only)) + "}"
    assert repeated_key(raw, json.loads(raw)) is None


@settings(max_examples=300, deadline=None)
@given(objects, st.booleans(), st.data())
def test_a_repeated_key_is_found_wherever_it_is(obj: dict[str, Any], ascii_only: bool, data: st.DataObject) -> None:
    parts = members(obj, ascii_only)
    key = data.draw(st.sampled_from(sorted(obj)))
    again = json.dumps(key, ensure_ascii=ascii_only) + ":" + json.dumps(data.draw(json_values), ensure_ascii=ascii_only)
    parts.insert(data.draw(st.integers(0, len(parts))), again)
    raw = "{" + ",".join(parts) + "}"
    assert repeated_key(raw, json.loads(raw)) == key


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_client_order_id_shape_and_determinism(intent_id: str) -> None:
    coid = client_order_id(intent_id)
    assert COID.fullmatch(coid), coid
    assert coid == client_order_id(intent_id)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64))
def test_distinct_intent_ids_get_distinct_client_order_ids(a: str, b: str) -> None:
    assert (client_order_id(a) == client_order_id(b)) == (a == b)


def test_client_order_id_is_stable_across_releases() -> None:
    """Orders placed before an upgrade must still be found by the same id after it."""
    assert client_order_id("sig-1") == "ex-6244580a346acf5d814a48dcf65bcdab"
    assert client_order_id("entry:1700000000000-0") == "ex-9217cd5b0f4deaf7f18af46d9933ed41"
