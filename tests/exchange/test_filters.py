"""Binance symbol filters against hand-computed numbers, and parsing of spot and USD-M exchangeInfo."""

from __future__ import annotations

import json
from decimal import Decimal as D
from importlib import resources

import pytest

from app.config import DEFAULT_SYMBOLS, Market
from app.exchange.filters import (
    PriceBand, SymbolRules, check_order, price_for, quantity_for, round_down, rules_from_exchange_info,
    rules_from_symbol_info,
)
from app.exchange.paper import bundled_rules


def bundled(market: str) -> dict:
    return json.loads((resources.files("app.exchange") / "data" / f"exchange_info_{market}.json").read_text())


USDM = rules_from_exchange_info(bundled("usdm"))
SPOT = rules_from_exchange_info(bundled("spot"))
BTC_USDM = USDM["BTCUSDT"]
BTC_SPOT = SPOT["BTCUSDT"]

# a symbol whose MARKET_LOT_SIZE is coarser than its LOT_SIZE, to tell the two apart
COARSE = SymbolRules(symbol="COARSEUSDT", base_asset="COARSE", quote_asset="USDT", tick_size=D("0.01"),
                     min_price=D("1"), max_price=D("1000"), step_size=D("0.001"), min_qty=D("0.001"),
                     max_qty=D("100"), market_step_size=D("0.01"), market_min_qty=D("0.01"), market_max_qty=D("10"),
                     min_notional=D("5"), max_notional=D("50000"), apply_min_to_market=False)


@pytest.mark.parametrize(("value", "step", "expected"), [
    ("0.0019", "0.001", "0.001"), ("0.001", "0.001", "0.001"), ("0.0009999", "0.001", "0"),
    ("12.999", "1", "12"), ("1234.5678", "0.01", "1234.56"), ("7.77", "0", "7.77"), ("0.35", "0.1", "0.3"),
])
def test_round_down(value: str, step: str, expected: str) -> None:
    assert round_down(D(value), D(step)) == D(expected)


def test_quantity_rounds_down_to_the_step_never_up() -> None:
    assert quantity_for(BTC_USDM, D("0.0019"), "MARKET") == D("0.001")
    assert quantity_for(BTC_USDM, D("0.0019"), "LIMIT") == D("0.001")
    assert quantity_for(BTC_SPOT, D("0.0123456"), "MARKET") == D("0.01234")
    assert quantity_for(SPOT["DOGEUSDT"], D("99.99"), "LIMIT") == D("99")


def test_market_orders_also_round_to_market_lot_size() -> None:
    assert quantity_for(COARSE, D("0.019"), "LIMIT") == D("0.019")
    assert quantity_for(COARSE, D("0.019"), "MARKET") == D("0.01")


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_nonpositive_quantities_round_to_zero(quantity: str) -> None:
    assert quantity_for(BTC_USDM, D(quantity), "MARKET") == 0


def test_price_rounds_down_to_the_tick() -> None:
    assert price_for(BTC_USDM, D("65000.17")) == D("65000.1")
    assert price_for(SPOT["XRPUSDT"], D("2.123456")) == D("2.1234")


def violation(rules: SymbolRules, qty: str, order_type: str = "MARKET", price: str | None = None,
              reference: str = "95000") -> tuple[str, str] | None:
    found = check_order(rules, D(qty), order_type, D(price) if price is not None else None, D(reference))
    return None if found is None else (found.filter, found.message)


def test_a_valid_market_order_passes() -> None:
    assert violation(BTC_USDM, "0.002") is None


@pytest.mark.parametrize(("qty", "order_type", "price", "expected"), [
    ("0.0009", "LIMIT", "95000", ("LOT_SIZE", "quantity 0.0009 is below minQty 0.001")),
    ("0", "MARKET", None, ("LOT_SIZE", "quantity rounds to zero at this step size")),
    ("0.0015", "LIMIT", "95000", ("LOT_SIZE", "quantity 0.0015 is not a multiple of stepSize 0.001")),
    ("1000.001", "LIMIT", "95000", ("LOT_SIZE", "quantity 1000.001 is above maxQty 1000")),
    ("120.001", "MARKET", None, ("MARKET_LOT_SIZE", "quantity 120.001 is above maxQty 120")),
])
def test_lot_size_filters(qty: str, order_type: str, price: str | None, expected: tuple[str, str]) -> None:
    assert violation(BTC_USDM, qty, order_type, price) == expected


def test_market_lot_size_max_does_not_bind_limit_orders() -> None:
    assert violation(BTC_USDM, "120.001", "LIMIT", "95000") is None
    assert violation(BTC_USDM, "120", "MARKET") is None


def test_market_lot_size_step_and_min() -> None:
    assert violation(COARSE, "0.015", "MARKET", reference="1000") == \
        ("MARKET_LOT_SIZE", "quantity 0.015 is not a multiple of stepSize 0.01")
    assert violation(COARSE, "0.015", "LIMIT", "1000") is None
    assert violation(COARSE, "0.009", "MARKET", reference="1000") == \
        ("MARKET_LOT_SIZE", "quantity 0.009 is below minQty 0.01")
    assert violation(COARSE, "0.009", "LIMIT", "1000") is None
    assert violation(COARSE, "10.01", "MARKET", reference="1") == \
        ("MARKET_LOT_SIZE", "quantity 10.01 is above maxQty 10")


def test_step_is_counted_from_min_qty_as_binance_does() -> None:
    """Binance: (quantity - minQty) % stepSize == 0."""
    odd = SymbolRules(symbol="ODDUSDT", base_asset="ODD", quote_asset="USDT", step_size=D("0.001"),
                      min_qty=D("0.0015"))
    assert violation(odd, "0.0025", "LIMIT", "1") is None
    assert violation(odd, "0.003", "LIMIT", "1") == ("LOT_SIZE", "quantity 0.003 is not a multiple of stepSize 0.001")


def test_min_notional_for_market_orders_uses_the_reference_price() -> None:
    # 0.001 BTC x 95,000 = 95 USDT, under the futures minimum of 100
    assert violation(BTC_USDM, "0.001", reference="95000") == ("MIN_NOTIONAL", "notional 95 is below the minimum 100")
    # exactly at the minimum passes: 0.001 x 100,000 = 100
    assert violation(BTC_USDM, "0.001", reference="100000") is None
    assert violation(BTC_USDM, "0.002", reference="95000") is None


def test_min_notional_for_limit_orders_uses_the_limit_price() -> None:
    assert violation(BTC_USDM, "0.001", "LIMIT", "99999.9", reference="200000") == \
        ("MIN_NOTIONAL", "notional 99.9999 is below the minimum 100")
    assert violation(BTC_USDM, "0.001", "LIMIT", "100000", reference="1") is None


def test_reduce_only_futures_orders_are_exempt_from_min_notional() -> None:
    """Binance -4164: "Order's notional must be no smaller than 100 (unless you choose reduce only)"."""
    found = check_order(BTC_USDM, D("0.001"), "MARKET", None, D("95000"), reduce_only=True)
    assert found is None
    assert check_order(BTC_USDM, D("0.001"), "LIMIT", D("95000"), D("95000"), reduce_only=True) is None
    # the other filters still apply
    found = check_order(BTC_USDM, D("0.0005"), "MARKET", None, D("95000"), reduce_only=True)
    assert found is not None and found.filter == "LOT_SIZE"


def test_spot_has_no_reduce_only_exemption() -> None:
    assert not BTC_SPOT.reduce_only_skips_min_notional
    found = check_order(BTC_SPOT, D("0.00005"), "MARKET", None, D("95000"), reduce_only=True)
    assert found is not None and found.filter == "MIN_NOTIONAL"


def test_apply_min_to_market_false_exempts_only_market_orders() -> None:
    # 0.004 x 1000 = 4 USDT < 5
    assert violation(COARSE, "0.01", "MARKET", reference="400") is None
    assert violation(COARSE, "0.004", "LIMIT", "1000") == ("MIN_NOTIONAL", "notional 4 is below the minimum 5")


def test_max_notional() -> None:
    # spot BTCUSDT: maxNotional 9,000,000; 100 BTC x 95,000 = 9,500,000
    found = violation(BTC_SPOT, "100", "LIMIT", "95000")
    assert found is not None and found[0] == "NOTIONAL" and "above the maximum" in found[1]
    assert violation(BTC_SPOT, "94", "LIMIT", "95000") is None


def test_spot_min_notional_of_five() -> None:
    # 0.00005 BTC x 95,000 = 4.75 < 5 ; 0.00006 x 95,000 = 5.7
    assert violation(BTC_SPOT, "0.00005") == ("MIN_NOTIONAL", "notional 4.75 is below the minimum 5")
    assert violation(BTC_SPOT, "0.00006") is None


@pytest.mark.parametrize(("price", "expected"), [
    ("65000.05", ("PRICE_FILTER", "price 65000.05 is not a multiple of tickSize 0.10")),
    ("0", ("PRICE_FILTER", "price must be positive")),
    ("-1", ("PRICE_FILTER", "price must be positive")),
    ("4750000.1", ("PRICE_FILTER", "price 4750000.1 is above maxPrice 4750000")),
])
def test_price_filter_for_limit_orders(price: str, expected: tuple[str, str]) -> None:
    assert violation(BTC_USDM, "0.01", "LIMIT", price) == expected


def test_limit_without_price() -> None:
    assert violation(BTC_USDM, "0.01", "LIMIT", None) == ("PRICE_FILTER", "price must be positive")


def test_min_price() -> None:
    assert violation(COARSE, "10", "LIMIT", "0.5") == ("PRICE_FILTER", "price 0.5 is below minPrice 1")


def test_tick_size_is_not_applied_to_market_orders() -> None:
    assert violation(BTC_USDM, "0.01", "MARKET", None, reference="95000.05") is None


def test_a_symbol_that_is_not_trading() -> None:
    info = {**bundled("usdm")["symbols"][0], "status": "SETTLING"}
    assert violation(rules_from_symbol_info(info), "0.01") == ("STATUS", "BTCUSDT is not trading")


def test_parse_usdm_symbol_from_the_bundled_file() -> None:
    assert BTC_USDM == SymbolRules(
        symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", tick_size=D("0.10"), min_price=D("0.10"),
        max_price=D("4750000"), step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"),
        market_step_size=D("0.001"), market_min_qty=D("0.001"), market_max_qty=D("120"), min_notional=D("100"),
        max_notional=D(0), apply_min_to_market=True, reduce_only_skips_min_notional=True,
        price_bands=(PriceBand("PERCENT_PRICE", bid_up=D("1.0500"), ask_down=D("0.9500")),), trading=True,
    )


def test_parse_spot_symbol_from_the_bundled_file() -> None:
    assert BTC_SPOT == SymbolRules(
        symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", tick_size=D("0.01"), min_price=D("0.01"),
        max_price=D("1000000"), step_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000000"),
        market_step_size=D(0), market_min_qty=D(0), market_max_qty=D("100000"), min_notional=D("5"),
        max_notional=D("9000000"), apply_min_to_market=True,
        price_bands=(PriceBand("PERCENT_PRICE_BY_SIDE", D("5"), D("0.2"), D("5"), D("0.2")),), trading=True,
    )


@pytest.mark.parametrize("market", [Market.USDM, Market.SPOT])
def test_bundled_files_list_every_default_symbol(market: Market) -> None:
    rules = bundled_rules(market)
    for symbol in DEFAULT_SYMBOLS.split(","):
        r = rules[symbol]
        assert r.trading and r.quote_asset == "USDT" and r.base_asset == symbol.removesuffix("USDT")
        assert r.tick_size > 0 and r.step_size > 0 and r.min_qty > 0 and r.min_notional > 0
        assert len(r.price_bands) == 1, "every listed symbol has a price band on Binance"


# -- price bands: PERCENT_PRICE, PERCENT_PRICE_BY_SIDE ---------------------------------------------

def band(rules: SymbolRules, side: str, price: str, average: str = "100000",
         order_type: str = "LIMIT") -> tuple[str, str] | None:
    found = check_order(rules, D("0.01"), order_type, D(price), D(average), side=side, average_price=D(average))
    return None if found is None else (found.filter, found.message)


@pytest.mark.parametrize(("side", "price", "expected"), [
    ("BUY", "105000", None),
    ("BUY", "105000.1", ("PERCENT_PRICE", "price 105000.1 is above 105000, 1.05 x the reference price 100000")),
    ("BUY", "50000", None),  # USD-M bounds a BUY from above only
    ("SELL", "95000", None),
    ("SELL", "94999.9", ("PERCENT_PRICE", "price 94999.9 is below 95000, 0.95 x the reference price 100000")),
    ("SELL", "100", ("PERCENT_PRICE", "price 100 is below 95000, 0.95 x the reference price 100000")),
    ("SELL", "500000", None),  # and a SELL from below only
])
def test_usdm_percent_price_is_one_bound_per_side_around_the_mark(side: str, price: str,
                                                                   expected: tuple[str, str] | None) -> None:
    assert band(BTC_USDM, side, price) == expected


@pytest.mark.parametrize(("side", "price", "expected"), [
    ("BUY", "500000", None),
    ("BUY", "500000.01", ("PERCENT_PRICE_BY_SIDE", "price 500000.01 is above 500000, 5 x the reference price 100000")),
    ("BUY", "19999.99", ("PERCENT_PRICE_BY_SIDE", "price 19999.99 is below 20000, 0.2 x the reference price 100000")),
    ("SELL", "20000", None),
    ("SELL", "100", ("PERCENT_PRICE_BY_SIDE", "price 100 is below 20000, 0.2 x the reference price 100000")),
    ("SELL", "500000.01", ("PERCENT_PRICE_BY_SIDE", "price 500000.01 is above 500000, 5 x the reference price 100000")),
])
def test_spot_percent_price_by_side_bounds_each_side_both_ways(side: str, price: str,
                                                               expected: tuple[str, str] | None) -> None:
    assert band(BTC_SPOT, side, price) == expected


def test_percent_price_by_side_uses_the_multipliers_of_the_order_side() -> None:
    info = {"symbol": "SIDEUSDT", "filters": [{"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.2",
                                              "bidMultiplierDown": "0.2", "askMultiplierUp": "5",
                                              "askMultiplierDown": "0.8", "avgPriceMins": 1}]}
    rules = rules_from_symbol_info(info)
    assert band(rules, "BUY", "120", "100") is None and band(rules, "BUY", "121", "100")[0] == "PERCENT_PRICE_BY_SIDE"
    assert band(rules, "BUY", "20", "100") is None and band(rules, "BUY", "19", "100") is not None
    assert band(rules, "SELL", "500", "100") is None and band(rules, "SELL", "501", "100") is not None
    assert band(rules, "SELL", "80", "100") is None and band(rules, "SELL", "79", "100") is not None


def test_spot_percent_price_bounds_both_sides_alike() -> None:
    info = {"symbol": "OLDUSDT", "filters": [{"filterType": "PERCENT_PRICE", "multiplierUp": "1.3000",
                                             "multiplierDown": "0.7000", "avgPriceMins": 5}]}
    rules = rules_from_symbol_info(info)
    assert rules.price_bands == (PriceBand("PERCENT_PRICE", D("1.3"), D("0.7"), D("1.3"), D("0.7")),)
    for side in ("BUY", "SELL"):
        assert band(rules, side, "130", "100") is None and band(rules, side, "70", "100") is None
        assert band(rules, side, "130.01", "100") == ("PERCENT_PRICE",
                                                      "price 130.01 is above 130, 1.3 x the reference price 100")
        assert band(rules, side, "69.99", "100") == ("PERCENT_PRICE",
                                                     "price 69.99 is below 70, 0.7 x the reference price 100")


def test_price_bands_bind_only_limit_prices_and_only_with_a_reference() -> None:
    assert band(BTC_USDM, "SELL", "100", order_type="MARKET") is None
    assert violation(BTC_USDM, "0.01", "LIMIT", "95000", reference="95000") is None
    assert check_order(BTC_USDM, D("1"), "LIMIT", D("100"), D("100"), side="SELL") is None


def test_legacy_spot_min_notional_filter() -> None:
    info = {"symbol": "OLDUSDT", "status": "TRADING", "baseAsset": "OLD", "quoteAsset": "USDT", "filters": [
        {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": False, "avgPriceMins": 5},
        {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "1000", "stepSize": "0.01"},
    ]}
    rules = rules_from_symbol_info(info)
    assert (rules.min_notional, rules.apply_min_to_market, rules.step_size) == (D("10"), False, D("0.01"))
    assert violation(rules, "0.5", "MARKET", reference="10") is None
    assert violation(rules, "0.5", "LIMIT", "10") == ("MIN_NOTIONAL", "notional 5 is below the minimum 10")


def test_spot_notional_filter_with_apply_min_to_market_false() -> None:
    info = {"symbol": "NEWUSDT", "baseAsset": "NEW", "quoteAsset": "USDT", "filters": [
        {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": False, "maxNotional": "100",
         "avgPriceMins": 5},
    ]}
    rules = rules_from_symbol_info(info)
    assert (rules.min_notional, rules.max_notional, rules.apply_min_to_market, rules.trading) == \
        (D("5"), D("100"), False, True)


def test_symbol_without_filters_parses_to_no_limits() -> None:
    rules = rules_from_symbol_info({"symbol": "BAREUSDT"})
    assert (rules.base_asset, rules.quote_asset, rules.step_size, rules.min_notional) == ("", "USDT", 0, 0)
    assert violation(rules, "0.123456789", "LIMIT", "1.23456") is None


def test_exchange_info_can_be_narrowed_to_some_symbols() -> None:
    assert set(rules_from_exchange_info(bundled("usdm"), ["BTCUSDT", "ETHUSDT", "NOPEUSDT"])) == {"BTCUSDT", "ETHUSDT"}
    assert rules_from_exchange_info({}) == {}
