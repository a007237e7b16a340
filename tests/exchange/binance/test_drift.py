"""Reconciliation's pure comparison (app/exchange/binance/drift.py): every kind of drift, and what is not drift."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.exchange.binance import drift
from app.exchange.binance.drift import Account, Books, VenueOrder, VenuePosition, compare

OURS = "ex-" + "a" * 32


def order(coid: str, symbol: str = "BTCUSDT", side: str = "BUY", qty: str = "0.01") -> VenueOrder:
    return VenueOrder(symbol, coid, side, D(qty), D(0))


def pos(qty: str, price: str = "65000") -> VenuePosition:
    return VenuePosition(D(qty), D(price))


@pytest.mark.parametrize("coid, ours, kind", [
    (OURS, True, "other"), ("autoclose-1700000000000", False, "liquidation"),
    ("adl_autoclose", False, "adl"), ("settlement_autoclose-1", False, "settlement"),
    ("web_abc123", False, "other"), ("x-ABC", False, "other"), ("", False, "other"),
])
def test_who_placed_an_order(coid: str, ours: bool, kind: str) -> None:
    assert drift.is_ours(coid) is ours
    if not ours:
        assert drift.external_kind(coid) == kind


def test_equal_books_and_account_are_no_drift() -> None:
    books = Books({OURS: "BTCUSDT"}, {"BTCUSDT": D("0.01"), "ETHUSDT": D(0)})
    account = Account((order(OURS),), {"BTCUSDT": pos("0.01")})
    result = compare(books, account)
    assert not result.found and result.summary() == "none"
    assert result.counts() == {"external_order": 0, "missing_order": 0, "position": 0, "balance": 0}


def test_an_order_the_service_did_not_place_is_external() -> None:
    liquidation = order("autoclose-17", side="SELL")
    result = compare(Books({OURS: "BTCUSDT"}), Account((order(OURS), order("web_1"), liquidation)))
    assert [o.client_order_id for o in result.external_orders] == ["web_1", "autoclose-17"]
    assert result.found and result.counts()["external_order"] == 2
    assert "autoclose-17 (liquidation) SELL 0.01 BTCUSDT" in result.summary()


def test_an_order_open_only_in_the_books_is_missing_but_not_drift() -> None:
    other = "ex-" + "b" * 32
    result = compare(Books({OURS: "BTCUSDT", other: "ETHUSDT"}), Account((order(OURS),)))
    assert result.missing_orders == (other,)
    assert not result.found  # polling books its end or marks it LOST
    assert result.counts()["missing_order"] == 1


@pytest.mark.parametrize("booked, venue, difference", [
    ("0", "0.5", "0.5"), ("0.5", "0", "-0.5"), ("0.2", "-0.1", "-0.3"), ("-1", "-0.4", "0.6"),
])
def test_a_position_difference_is_the_fill_that_makes_the_books_equal(booked: str, venue: str,
                                                                      difference: str) -> None:
    positions = {"BTCUSDT": pos(venue)} if D(venue) else {}
    result = compare(Books(positions={"BTCUSDT": D(booked)}), Account(positions=positions))
    (only,) = result.positions
    assert (only.symbol, only.booked, only.venue, only.difference) == ("BTCUSDT", D(booked), D(venue), D(difference))
    assert only.booked + only.difference == only.venue
    assert result.found


def test_within_the_tolerance_is_not_drift_and_beyond_it_is() -> None:
    books = Books(positions={"BTCUSDT": D("1.000"), "ETHUSDT": D("2")})
    account = Account(positions={"BTCUSDT": pos("1.004"), "ETHUSDT": pos("2.006")})
    assert [p.symbol for p in compare(books, account, D("0.005")).positions] == ["ETHUSDT"]
    assert [p.symbol for p in compare(books, account).positions] == ["BTCUSDT", "ETHUSDT"]


def test_rounding_noise_below_the_books_precision_is_never_drift() -> None:
    result = compare(Books(positions={"BTCUSDT": D("0.3000000000")}),
                     Account(positions={"BTCUSDT": pos("0.30000000001")}))
    assert not result.found


def test_a_busy_symbol_is_left_for_the_next_round() -> None:
    books = Books(positions={"BTCUSDT": D(0)}, busy=frozenset({"BTCUSDT"}))
    result = compare(books, Account(positions={"BTCUSDT": pos("0.01"), "ETHUSDT": pos("1")}))
    assert result.unsettled == ("BTCUSDT",)
    assert [p.symbol for p in result.positions] == ["ETHUSDT"]


def test_spot_has_no_positions_to_compare() -> None:
    result = compare(Books(positions={"BTCUSDT": D("3")}), Account(positions=None))
    assert not result.positions and not result.found


def test_balances_are_compared_only_when_the_books_keep_them() -> None:
    account = Account(balances={"USDT": D("100"), "BNB": D("1")})
    assert not compare(Books(balances=None), account).balances
    result = compare(Books(balances={"USDT": D("100"), "BTC": D("0.5")}), account)
    assert [(b.asset, b.booked, b.venue) for b in result.balances] == [("BNB", D(0), D(1)), ("BTC", D("0.5"), D(0))]
    assert "balances: BNB booked 0 Binance 1" in result.summary()


def test_binance_shapes_are_read() -> None:
    docs = [{"symbol": "BTCUSDT", "clientOrderId": "web_1", "side": "SELL", "origQty": "0.010",
             "executedQty": "0.002", "status": "PARTIALLY_FILLED"}]
    assert drift.open_orders(docs) == (VenueOrder("BTCUSDT", "web_1", "SELL", D("0.010"), D("0.002")),)
    risk = [{"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "-0.020", "entryPrice": "64000",
             "markPrice": "65000.5"},
            {"symbol": "ETHUSDT", "positionSide": "LONG", "positionAmt": "1.5", "entryPrice": "3500", "markPrice": ""},
            {"symbol": "ETHUSDT", "positionSide": "SHORT", "positionAmt": "-0.5", "entryPrice": "3400"},
            {"symbol": "ADAUSDT", "positionSide": "BOTH", "positionAmt": "0", "entryPrice": "0"}]
    assert drift.positions(risk) == {"BTCUSDT": pos("-0.020", "65000.5"), "ETHUSDT": pos("1.0", "3400")}
    spot = {"balances": [{"asset": "BTC", "free": "0.5", "locked": "0.1"}, {"asset": "LTC", "free": "0",
                                                                             "locked": "0"}]}
    assert drift.spot_balances(spot) == {"BTC": D("0.6")}
    futures = {"assets": [{"asset": "USDT", "walletBalance": "103.12"}, {"asset": "BNB", "walletBalance": "0"}]}
    assert drift.futures_balances(futures) == {"USDT": D("103.12")}
    assert drift.dec("garbage") == 0 and drift.dec(None) == 0
