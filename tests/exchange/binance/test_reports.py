"""Binance's documented order shapes become reports: statuses, fills, averages and fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.exchange.binance.reports import commission_sums, fee_in_quote, futures_report, spot_report, status_of
from app.models.result import Reason, Status

SPOT_FULL = {  # POST /api/v3/order, newOrderRespType=FULL, two fills
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "ex-1", "transactTime": 1507725176595,
    "price": "0.00000000", "origQty": "0.30000000", "executedQty": "0.30000000",
    "cummulativeQuoteQty": "19500.30000000", "status": "FILLED", "timeInForce": "GTC", "type": "MARKET",
    "side": "BUY", "workingTime": 1507725176595, "selfTradePreventionMode": "NONE",
    "fills": [
        {"price": "65000.00000000", "qty": "0.10000000", "commission": "0.00010000", "commissionAsset": "BTC",
         "tradeId": 56},
        {"price": "65001.50000000", "qty": "0.20000000", "commission": "0.00020000", "commissionAsset": "BTC",
         "tradeId": 57},
    ],
}
FUTURES_RESULT = {  # POST /fapi/v1/order, newOrderRespType=RESULT
    "clientOrderId": "ex-2", "cumQty": "0.010", "cumQuote": "650.00100", "executedQty": "0.010",
    "orderId": 22542179, "avgPrice": "65000.10000", "origQty": "0.010", "price": "0", "reduceOnly": False,
    "side": "BUY", "positionSide": "BOTH", "status": "FILLED", "stopPrice": "0", "closePosition": False,
    "symbol": "BTCUSDT", "timeInForce": "GTC", "type": "MARKET", "origType": "MARKET", "updateTime": 1566818724722,
    "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
    "selfTradePreventionMode": "NONE", "goodTillDate": 0,
}


def test_a_spot_full_response_sums_commissions_and_averages_fills() -> None:
    report = spot_report(SPOT_FULL)
    assert (report.status, report.reason, report.message) == (Status.FILLED, None, "")
    assert report.executed_qty == Decimal("0.3") and report.quote_qty == Decimal("19500.3")
    assert report.avg_price == Decimal("65001")
    assert report.commissions == {"BTC": Decimal("0.0003")} and report.exchange_order_id == "28"
    assert (report.fee, report.fee_asset) == (Decimal(0), None)           # valued by the adapter (fees.py)


def test_commissions_are_summed_per_asset_over_every_fill() -> None:
    fills = SPOT_FULL["fills"] + [{"price": "65002", "qty": "0.1", "commission": "0.00150000", "commissionAsset": "BNB",
                                   "tradeId": 58}]
    assert commission_sums(fills) == {"BTC": Decimal("0.0003"), "BNB": Decimal("0.0015")}


def test_fees_are_valued_in_the_quote_asset_base_at_the_average_price_bnb_at_its_own() -> None:
    charged = {"USDT": Decimal("0.5"), "BTC": Decimal("0.0001"), "BNB": Decimal("0.002"), "XYZ": Decimal(3)}
    value, unvalued = fee_in_quote(charged, "BTC", "USDT", Decimal("65000"), {"BNB": Decimal("600")})
    assert value == Decimal("0.5") + Decimal("6.5") + Decimal("1.2") and unvalued == ["XYZ"]
    assert fee_in_quote({}, "BTC", "USDT", None, {}) == (Decimal(0), [])


def test_a_futures_result_uses_avg_price_and_cum_quote_without_fees() -> None:
    report = futures_report(FUTURES_RESULT)
    assert report.status is Status.FILLED and report.raw_status == "FILLED"
    assert (report.executed_qty, report.avg_price, report.quote_qty) == \
           (Decimal("0.01"), Decimal("65000.1"), Decimal("650.001"))
    assert (report.fee, report.fee_asset, report.exchange_order_id) == (Decimal(0), None, "22542179")
    assert report.commissions == {}                                       # read from userTrades by the adapter


def test_a_futures_ack_is_reported_as_open_not_filled() -> None:
    ack = FUTURES_RESULT | {"status": "NEW", "executedQty": "0", "cumQuote": "0", "avgPrice": "0.00000"}
    report = futures_report(ack)
    assert (report.status, report.reason, report.avg_price) == (Status.NEW, Reason.ORDER_OPEN, None)
    assert report.message == "exchange status NEW: 0 of 0.01 filled"


@pytest.mark.parametrize("raw,executed,expected", [
    ("FILLED", "1", (Status.FILLED, None)),
    ("PARTIALLY_FILLED", "0.5", (Status.PARTIALLY_FILLED, Reason.PARTIAL_FILL)),
    ("NEW", "0", (Status.NEW, Reason.ORDER_OPEN)),
    ("EXPIRED", "0.5", (Status.PARTIALLY_FILLED, Reason.PARTIAL_FILL)),
    ("EXPIRED_IN_MATCH", "0", (Status.REJECTED, Reason.ORDER_CANCELED)),
    ("CANCELED", "0", (Status.REJECTED, Reason.ORDER_CANCELED)),
    ("REJECTED", "0", (Status.REJECTED, Reason.ORDER_CANCELED)),
    ("SOMETHING_NEW", "0", (Status.FAILED, Reason.EXCHANGE_REJECTED)),
])
def test_every_binance_order_status_maps(raw: str, executed: str, expected: tuple[Status, Reason | None]) -> None:
    assert status_of(raw, Decimal(executed)) == expected


def test_a_spot_query_response_has_no_fills_and_no_fee() -> None:
    query = {k: v for k, v in SPOT_FULL.items() if k not in ("fills", "transactTime")} | {"isWorking": False}
    report = spot_report(query)
    assert report.avg_price == Decimal("65001") and report.fee == 0 and report.fee_asset is None
