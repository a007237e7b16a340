"""ACCOUNT_UPDATE as Binance documents it (USD-M "Event: Balance and Position Update") -> AccountEvent."""

from __future__ import annotations

from decimal import Decimal as D

from app.exchange.binance.account_events import AccountEvent, Balance, PositionState, parse_account

ORDER = {"e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938, "a": {
    "m": "ORDER",
    "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"},
          {"a": "BUSD", "wb": "1.00000000", "cw": "0.00000000", "bc": "-49.12345678"}],
    "P": [{"s": "BTCUSDT", "pa": "0", "ep": "0.00000", "bep": "0", "cr": "200", "up": "0", "mt": "isolated",
           "iw": "0.00000000", "ps": "BOTH"},
          {"s": "BTCUSDT", "pa": "20", "ep": "6563.66500", "bep": "0", "cr": "0", "up": "2850.21200",
           "mt": "isolated", "iw": "13200.70726908", "ps": "LONG"}]}}


def test_an_order_account_update_gives_its_balances_and_positions() -> None:
    event = parse_account(ORDER)
    assert event == AccountEvent("ORDER", 1564745798939, (
        Balance("USDT", D("122624.12345678"), D("100.12345678"), D("50.12345678")),
        Balance("BUSD", D("1.00000000"), D("0.00000000"), D("-49.12345678"))), (
        PositionState("BTCUSDT", D("0"), D("0.00000"), D("0"), "isolated"),
        PositionState("BTCUSDT", D("20"), D("6563.66500"), D("2850.21200"), "isolated")))
    assert event.funding_symbol is None  # not a funding fee


def test_a_funding_fee_names_its_symbol_only_with_its_isolated_position() -> None:
    crossed = {"e": "ACCOUNT_UPDATE", "E": 5, "a": {"m": "FUNDING_FEE",
                                                    "B": [{"a": "USDT", "wb": "10", "cw": "10", "bc": "-0.5"}]}}
    event = parse_account(crossed)
    assert event is not None and event.balances[0].change == D("-0.5") and event.funding_symbol is None
    isolated = {**crossed, "a": {**crossed["a"], "P": [{"s": "ETHUSDT", "pa": "1", "ep": "2000", "up": "0",
                                                        "mt": "isolated"}]}}
    assert parse_account({"data": isolated}).funding_symbol == "ETHUSDT"  # a combined stream's wrapper too


def test_other_events_and_malformed_ones_are_not_account_updates() -> None:
    assert parse_account({"e": "ORDER_TRADE_UPDATE", "E": 1, "o": {}}) is None
    assert parse_account({"e": "ACCOUNT_UPDATE", "E": 1, "a": "nope"}) is None
    event = parse_account({"e": "ACCOUNT_UPDATE", "E": 1, "a": {"m": "DEPOSIT", "B": [{"wb": "1"}, "x"], "P": None}})
    assert event == AccountEvent("DEPOSIT", 1, (), ())
