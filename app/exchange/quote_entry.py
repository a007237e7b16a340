"""The quote stream's entry format, read by the PAPER price source and written by ``python -m app quote``.

An entry is one top-of-book quote: field ``data`` holding a JSON object
``{"symbol": "BTCUSDT", "bid": 94000.1, "ask": 94000.2}`` with optional ``bid_qty`` and ``ask_qty``,
or the same names as flat fields. Numbers may be JSON numbers or decimal strings (Binance sends
strings). Every value is checked the way intents are: a symbol of 2-20 of A-Z0-9, numbers from
1e-12 to 1e15 (finite, above zero), ``bid <= ask``; other keys are ignored, so a feed may add its
own (a timestamp, a source).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.codec import text
from app.exchange.base import Quote

QUOTE_STREAM_MAXLEN = 10_000  # the approximate MAXLEN writers trim the stream to (the CLI does)
MAX_DATA_BYTES = 4096  # a quote is ~80 bytes; anything far larger is not one
MIN_NUMBER, MAX_NUMBER = Decimal("1e-12"), Decimal("1e15")  # above 0, and sane for prices and sizes
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,20}")
_NUMBER_RE = re.compile(r"(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PRICES = ("bid", "ask")
_SIZES = ("bid_qty", "ask_qty")


class QuoteError(ValueError):
    """An entry or an input that is not a valid quote; the message says which field and why."""


def _number(name: str, value: Any) -> Decimal:
    if isinstance(value, str):
        if len(value) > 40 or not _NUMBER_RE.fullmatch(value):
            raise QuoteError(f"{name} must be a decimal number like 94000.1, got {value[:20]!r}")
        value = Decimal(value)
    if not isinstance(value, Decimal):
        raise QuoteError(f"{name} must be a number, got {type(value).__name__}")
    if not value.is_finite() or not MIN_NUMBER <= value <= MAX_NUMBER:
        raise QuoteError(f"{name} must be a number from {MIN_NUMBER:f} to {MAX_NUMBER:f}")
    return value


def make_quote(values: Mapping[str, Any]) -> tuple[str, Quote]:
    """The symbol (upper-cased, as intents' are) and quote of ``symbol``, ``bid``, ``ask`` and optional
    ``bid_qty``, ``ask_qty``."""
    symbol = values.get("symbol")
    symbol = symbol.upper() if isinstance(symbol, str) and symbol.isascii() else symbol
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol):
        raise QuoteError("symbol must be 2-20 characters of A-Z and 0-9, like BTCUSDT")
    for name in _PRICES:
        if values.get(name) is None:
            raise QuoteError(f"{name} is missing")
    numbers = {name: _number(name, values[name]) for name in (*_PRICES, *_SIZES) if values.get(name) is not None}
    if numbers["bid"] > numbers["ask"]:
        raise QuoteError(f"bid {numbers['bid']} is above ask {numbers['ask']}")
    return symbol, Quote(**numbers)


def decode_entry(fields: Mapping[Any, Any]) -> tuple[str, Quote]:
    """An entry's quote, or QuoteError."""
    data = fields.get(b"data", fields.get("data"))
    try:
        if data is None:
            return make_quote({text(k): text(v) for k, v in fields.items()})
        if len(data) > MAX_DATA_BYTES:
            raise QuoteError(f"data is larger than {MAX_DATA_BYTES} bytes")
        values = json.loads(data, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)
    except QuoteError:
        raise
    except (ValueError, InvalidOperation):  # bad JSON or bytes that are not UTF-8
        raise QuoteError("data is not valid JSON" if data is not None else "a field is not UTF-8 text") from None
    if not isinstance(values, dict):
        raise QuoteError("data must be a JSON object")
    return make_quote(values)


def encode_entry(symbol: str, quote: Quote) -> dict[str, str]:
    """The entry fields for a quote: ``data`` with its numbers written exactly."""
    parts = [f'"symbol":"{symbol}"']  # the symbol is A-Z0-9 (make_quote): nothing to escape
    for name in (*_PRICES, *_SIZES):
        value = getattr(quote, name)
        if value is not None:
            parts.append(f'"{name}":{value:f}')
    return {"data": "{" + ",".join(parts) + "}"}


def _no_constant(name: str) -> Any:
    raise QuoteError(f"{name} is not a number")
