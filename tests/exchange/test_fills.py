"""PAPER pricing against hand-computed numbers: touch by side, slippage, tick rounding, fees, LIMIT marketability."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.config import Market, load_settings
from app.exchange.base import Quote
from app.exchange.fills import quote_from_mid, simulate, to_tick

FUTURES_FEE = D("0.0004")
SPOT_FEE = D("0.001")
TICK = D("0.10")
# mid 95,000 with a 1 bp spread: half spread = 95,000 x 0.0001 / 2 = 4.75
QUOTE = Quote(bid=D("94995.25"), ask=D("95004.75"))


def test_quote_from_mid() -> None:
    assert quote_from_mid(D("95000"), D("1")) == QUOTE
    assert quote_from_mid(D("2.2"), D("10")) == Quote(bid=D("2.1989"), ask=D("2.2011"))
    assert quote_from_mid(D("100"), D("0")) == Quote(bid=D("100"), ask=D("100"))


def test_touch_by_side() -> None:
    assert QUOTE.for_side("BUY") == D("95004.75") and QUOTE.for_side("SELL") == D("94995.25")


def test_default_fee_rates_are_binance_taker_fees() -> None:
    assert D(str(load_settings({}).fee_rate)) == FUTURES_FEE
    assert D(str(load_settings({}, binance_market=Market.SPOT).fee_rate)) == SPOT_FEE


def test_market_buy_pays_the_ask_plus_slippage_rounded_to_the_tick() -> None:
    # 95,004.75 + 95,004.75 x 1 bp (9.500475) = 95,014.250475 -> nearest 0.10 tick: 95,014.3
    fill = simulate("BUY", D("0.01"), "MARKET", None, QUOTE, D("1"), FUTURES_FEE, TICK)
    assert fill is not None
    assert fill.price == D("95014.3")
    assert fill.quantity == D("0.01")
    assert fill.quote_qty == D("950.143")
    # 950.143 x 0.0004 = 0.3800572
    assert fill.fee == D("0.38005720")


def test_market_sell_gets_the_bid_minus_slippage() -> None:
    # 94,995.25 - 9.499525 = 94,985.750475 -> 94,985.8 ; fee 949.858 x 0.001 = 0.949858
    fill = simulate("SELL", D("0.01"), "MARKET", None, QUOTE, D("1"), SPOT_FEE, TICK)
    assert fill is not None
    assert (fill.price, fill.fee) == (D("94985.8"), D("0.94985800"))


def test_larger_slippage() -> None:
    # 10 bps on ETH: ask 3,500.175 (mid 3,500, 1 bp spread) + 3.500175 = 3,503.675175 -> tick 0.01: 3,503.68
    quote = quote_from_mid(D("3500"), D("1"))
    fill = simulate("BUY", D("0.5"), "MARKET", None, quote, D("10"), FUTURES_FEE, D("0.01"))
    assert fill is not None
    assert fill.price == D("3503.68")
    # 0.5 x 3,503.68 = 1,751.84 ; x 0.0004 = 0.700736
    assert fill.fee == D("0.70073600")


def test_zero_slippage_fills_at_the_touch_rounded_half_even() -> None:
    # 95,004.75 is half way between ticks: half-even gives 95,004.8 ; 94,995.25 gives 94,995.2
    buy = simulate("BUY", D("1"), "MARKET", None, QUOTE, D("0"), FUTURES_FEE, TICK)
    sell = simulate("SELL", D("1"), "MARKET", None, QUOTE, D("0"), FUTURES_FEE, TICK)
    assert buy is not None and sell is not None
    assert (buy.price, sell.price) == (D("95004.8"), D("94995.2"))


def test_without_a_tick_the_price_is_not_rounded() -> None:
    fill = simulate("BUY", D("1"), "MARKET", None, QUOTE, D("1"), FUTURES_FEE, D("0"))
    assert fill is not None and fill.price == D("95014.250475")


def test_fee_is_rounded_to_eight_decimals() -> None:
    # 0.001 x 0.7 x 0.0004 = 0.00000028 ; 0.0001 x 0.7 x 0.0004 = 0.000000028 -> 0.00000003 (half-even)
    quote = Quote(bid=D("0.7"), ask=D("0.7"))
    assert simulate("BUY", D("0.001"), "MARKET", None, quote, D("0"), FUTURES_FEE, D("0")).fee == D("0.00000028")
    assert simulate("BUY", D("0.0001"), "MARKET", None, quote, D("0"), FUTURES_FEE, D("0")).fee == D("0.00000003")


@pytest.mark.parametrize(("side", "limit", "price"), [
    ("BUY", "95010.0", "95004.8"),   # limit above the ask: fills at the ask, not at the limit
    ("BUY", "95004.8", "95004.8"),   # first tick at or above the ask
    ("SELL", "94990.0", "94995.2"),  # limit below the bid: fills at the bid
    ("SELL", "94995.2", "94995.2"),
])
def test_marketable_limit_fills_at_the_touch_without_slippage(side: str, limit: str, price: str) -> None:
    fill = simulate(side, D("0.01"), "LIMIT", D(limit), QUOTE, D("50"), FUTURES_FEE, TICK)
    assert fill is not None and fill.price == D(price)
    assert (fill.price <= D(limit)) if side == "BUY" else (fill.price >= D(limit))


@pytest.mark.parametrize(("side", "limit"), [("BUY", "95004.7"), ("BUY", "90000"), ("SELL", "94995.3"),
                                              ("SELL", "99000")])
def test_non_marketable_limit_rests(side: str, limit: str) -> None:
    assert simulate(side, D("0.01"), "LIMIT", D(limit), QUOTE, D("1"), FUTURES_FEE, TICK) is None


@pytest.mark.parametrize(("price", "tick", "expected"), [
    ("1.234", "0.01", "1.23"), ("1.235", "0.01", "1.24"), ("1.245", "0.01", "1.24"), ("1.2451", "0.01", "1.25"),
    ("100", "0", "100"), ("0.000123456", "0.00001", "0.00012"),
])
def test_to_tick(price: str, tick: str, expected: str) -> None:
    assert to_tick(D(price), D(tick)) == D(expected)
