"""The quote stream's entry format: what is a quote, what is refused and why, and the exact encoding."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from app.exchange.base import Quote
from app.exchange.quote_entry import QuoteError, decode_entry, encode_entry


def data(**values: object) -> dict[bytes, bytes]:
    return {b"data": json.dumps(values).encode()}


def test_data_entry_with_sizes_keeps_every_digit() -> None:
    fields = {b"data": b'{"symbol":"BTCUSDT","bid":94000.1,"ask":94000.2,"bid_qty":1.25,"ask_qty":"0.003"}'}
    assert decode_entry(fields) == ("BTCUSDT", Quote(D("94000.1"), D("94000.2"), D("1.25"), D("0.003")))


def test_flat_entry_without_sizes_and_lower_case_symbol() -> None:
    fields = {b"symbol": b"ethusdt", b"bid": b"3500", b"ask": b"3500.5", b"source": b"feed-1"}
    assert decode_entry(fields) == ("ETHUSDT", Quote(D("3500"), D("3500.5")))


def test_a_crossed_book_of_equal_prices_is_a_quote() -> None:
    assert decode_entry(data(symbol="XRPUSDT", bid=2, ask=2))[1] == Quote(D(2), D(2))


REFUSED = [
    (data(symbol="BTCUSDT", bid=94000.3, ask=94000.2), "bid 94000.3 is above ask 94000.2"),
    (data(symbol="BTCUSDT", bid=0, ask=1), "bid must be a number from 0.000000000001 to"),
    (data(symbol="BTCUSDT", bid=1, ask=-1), "ask must be a number from 0.000000000001 to"),
    (data(symbol="BTCUSDT", bid=1, ask=2, bid_qty=0), "bid_qty must be a number from"),
    (data(symbol="BTCUSDT", bid=1, ask="1e999"), "ask must be a number from 0.000000000001 to 1000000000000000"),
    (data(symbol="BTCUSDT", bid="1e-13", ask=1), "bid must be a number from"),
    (data(symbol="BTCUSDT", bid=1, ask=True), "ask must be a number, got bool"),
    (data(symbol="BTCUSDT", bid=1, ask="2 "), "ask must be a decimal number like 94000.1"),
    (data(symbol="BTCUSDT", bid=1, ask=[2]), "ask must be a number, got list"),
    (data(symbol="BTCUSDT", bid=1), "ask is missing"),
    (data(symbol="BTC-USDT", bid=1, ask=2), "symbol must be 2-20 characters of A-Z and 0-9"),
    (data(symbol="B", bid=1, ask=2), "symbol must be"),
    (data(symbol=7, bid=1, ask=2), "symbol must be"),
    (data(bid=1, ask=2), "symbol must be"),
    ({b"data": b'{"symbol":"BTCUSDT","bid":NaN,"ask":2}'}, "NaN is not a number"),
    ({b"data": b'{"symbol":"BTCUSDT","bid":1,"ask":Infinity}'}, "Infinity is not a number"),
    ({b"data": b"{not json"}, "data is not valid JSON"),
    ({b"data": b"[1, 2]"}, "data must be a JSON object"),
    ({b"data": b"\xff\xfe"}, "data is not valid JSON"),
    ({b"data": b" " * 5000}, "data is larger than 4096 bytes"),
    ({b"symbol": b"BTCUSDT", b"bid": b"NaN", b"ask": b"2"}, "bid must be a decimal number like 94000.1"),
    ({b"symbol": b"\xff", b"bid": b"1", b"ask": b"2"}, "a field is not UTF-8 text"),
]


@pytest.mark.parametrize(("fields", "why"), REFUSED)
def test_what_is_not_a_quote_is_refused_saying_why(fields: dict[bytes, bytes], why: str) -> None:
    with pytest.raises(QuoteError, match="^" + why.replace("+", r"\+").replace(".", r"\.")):
        decode_entry(fields)


def test_encoding_writes_json_numbers_exactly_and_reads_back() -> None:
    quote = Quote(D("94000.10"), D("1E+5"), ask_qty=D("0.00000001"))
    fields = encode_entry("BTCUSDT", quote)
    assert fields == {"data": '{"symbol":"BTCUSDT","bid":94000.10,"ask":100000,"ask_qty":0.00000001}'}
    assert json.loads(fields["data"])["ask"] == 100000
    assert decode_entry(fields) == ("BTCUSDT", quote)
