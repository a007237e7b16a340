"""Hypothesis strategies for hostile intent stream entries, each tagged INVALID when no intent can hide
in it (whatever the draw) or MAYBE when a valid intent might (the decoder then says which)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

INVALID, MAYBE = "invalid", "maybe"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")   # never XRPUSDT: the run's last check trades it
REQUIRED = ("symbol", "side", "quantity")
Entry = tuple[str, dict[Any, Any]]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
bodies = st.fixed_dictionaries({
    "intent_id": st.uuids().map(lambda u: f"fz-{u.hex}"), "symbol": st.sampled_from(SYMBOLS),
    "side": st.sampled_from(("BUY", "SELL")), "quantity": st.floats(0.001, 2.0),
})
not_coercible = st.lists(json_values, max_size=3) | st.dictionaries(st.text(max_size=5), json_values, max_size=3) | \
    st.booleans() | st.none()
ascii_or_not = st.booleans()


def _data(text: str) -> dict[str, str]:
    return {"data": text}


def _dumps(body: dict[str, Any], ascii_only: bool = True) -> str:
    return json.dumps(body, ensure_ascii=ascii_only)


def _with_literal(body: dict[str, Any], field: str, literal: str) -> str:
    """``body`` as JSON with ``field`` spelled as a raw JSON literal (numbers json.dumps cannot write)."""
    return _dumps({**body, field: "\0LITERAL\0"}).replace('"\\u0000LITERAL\\u0000"', literal)


def _nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


raw_fields = st.dictionaries(st.binary(max_size=16), st.binary(max_size=200), min_size=1, max_size=6) \
    .map(lambda f: (MAYBE, f))
raw_data = st.binary(max_size=400).map(lambda b: (MAYBE, {b"data": b}))
not_an_object = json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: (INVALID, _data(json.dumps(v))))
deep_data = st.builds(lambda d, k: (INVALID, _data(_nested(d, k))), st.integers(2, 40_000),
                      st.sampled_from(["list", "dict"]))
# An intent with a deeply nested extra field: parsed and ignored when shallow; refused ("nested too
# deeply") well past the interpreter's recursion limit. In between, the answer depends on how deep the
# decoder's caller already is on the stack, so no depth from that band is drawn.
deep_field = st.builds(lambda body, d, k: (MAYBE if d <= 100 else INVALID,
                                           _data(_dumps(body)[:-1] + ', "extra": ' + _nested(d, k) + "}")),
                       bodies, st.integers(2, 100) | st.integers(3_000, 30_000), st.sampled_from(["list", "dict"]))
huge_quantity = st.one_of(st.integers(10, 5000).map(lambda k: "1" + "0" * k),
                          st.sampled_from(["1e309", "-1e999", "1e400", "9" * 400 + ".5", "-0.0", "0"]))
huge_number = st.one_of(
    st.builds(lambda body, lit: (INVALID, _data(_with_literal(body, "quantity", lit))), bodies, huge_quantity),
    st.builds(lambda body, k: (INVALID, _data(_with_literal(body, "leverage", "1" + "0" * k))),
              bodies, st.integers(3, 5000)),
)
wrong_type = st.builds(lambda body, field, value: (INVALID, _data(_dumps({**body, field: value}))),
                       bodies, st.sampled_from(REQUIRED), not_coercible)
unicode = st.builds(lambda body, field, text, ascii_only: (MAYBE, _data(_dumps({**body, field: text}, ascii_only))),
                    bodies, st.sampled_from(["symbol", "side", "intent_id", "source", "strategy"]), st.text(),
                    ascii_or_not)
missing = st.builds(lambda body, field: (INVALID, _data(_dumps({k: v for k, v in body.items() if k != field}))),
                    bodies, st.sampled_from(REQUIRED))
extra = st.builds(lambda body, more: (MAYBE, _data(_dumps({**more, **body}))),
                  bodies, st.dictionaries(st.text(max_size=12), json_values, max_size=5))
# ~1 MB: far above MAX_INTENT_BYTES, as JSON inside data, as a flat field, as a field name
megabyte = st.builds(lambda body, n, c, where: (INVALID, {
    "json": _data(_dumps({**body, "padding": c * n}, ascii_only=False)),
    "flat": {**{k: str(v) for k, v in body.items()}, "source": c * n},
    "name": {c * n: "1", **{k: str(v) for k, v in body.items()}},
}[where]), bodies, st.integers(900_000, 1_100_000), st.sampled_from(["x", "é", "€", "\U0001f680"]),
    st.sampled_from(["json", "flat", "name"]))
flat = st.dictionaries(st.sampled_from(["intent_id", *REQUIRED, "notional_usd", "leverage", "order_type", "price",
                                        "reduce_only", "created_at", "traceparent"]),
                       st.text(max_size=12) | st.sampled_from(["BTCUSDT", "BUY", "SELL", "0.01", "NaN", "1e400"]),
                       min_size=1).map(lambda f: (MAYBE, f))
valid = bodies.map(lambda body: (MAYBE, _data(_dumps(body))))

hostile_entries = st.one_of(raw_fields, raw_data, not_an_object, deep_data, deep_field, huge_number, wrong_type,
                            unicode, missing, extra, megabyte, flat, valid)
