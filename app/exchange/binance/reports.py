"""Binance order documents (spot FULL/RESULT and query responses, USD-M RESULT and query) → reports.

Pure functions. Spot FULL answers give fills with commissions, summed per asset into the report's
``commissions``; USD-M answers (and spot look-ups) carry none: the adapter reads them from the
order's trades (app/exchange/binance/fees.py). ``fee_in_quote`` values commissions in the symbol's
quote asset for PnL (docs/binance.md, "Commissions").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from app.exchange.base import ExecutionReport
from app.exchange.binance.updates import dec
from app.models.result import Reason, Status

ZERO = Decimal(0)
_CLOSED = {"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED", "PENDING_CANCEL"}


def spot_report(doc: Mapping[str, Any]) -> ExecutionReport:
    executed = dec(doc.get("executedQty"))
    quote_qty = dec(doc.get("cummulativeQuoteQty"))
    avg = quote_qty / executed if executed > 0 and quote_qty > 0 else None
    report = _report(doc, executed, avg, quote_qty, ZERO, None)
    report.commissions = commission_sums(doc.get("fills") or ())
    return report


def futures_report(doc: Mapping[str, Any]) -> ExecutionReport:
    executed = dec(doc.get("executedQty"))
    avg = dec(doc.get("avgPrice"))
    quote_qty = dec(doc.get("cumQuote"))
    if quote_qty == 0 and executed > 0 and avg > 0:
        quote_qty = executed * avg
    return _report(doc, executed, avg if avg > 0 else None, quote_qty, ZERO, None)


def commission_sums(items: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    """Commission per asset over spot fills or user trades (each has ``commission`` and ``commissionAsset``)."""
    sums: dict[str, Decimal] = {}
    for item in items:
        if item.get("commissionAsset"):
            asset = str(item["commissionAsset"])
            sums[asset] = sums.get(asset, ZERO) + dec(item.get("commission"))
    return sums


def fee_in_quote(commissions: Mapping[str, Decimal], base: str, quote: str, avg_price: Decimal | None,
                 prices: Mapping[str, Decimal]) -> tuple[Decimal, list[str]]:
    """The commissions' value in ``quote``, and the assets that could not be valued.

    The quote asset counts as is; the base asset at the order's average fill price (what it was
    traded at); any other asset (BNB) at ``prices[asset]``, its price in the quote asset.
    """
    value, unvalued = ZERO, []
    for asset, amount in commissions.items():
        price = Decimal(1) if asset == quote else avg_price if asset == base else prices.get(asset)
        if price is None:
            unvalued.append(asset)
        else:
            value += amount * price
    return value, unvalued


def _report(doc: Mapping[str, Any], executed: Decimal, avg: Decimal | None, quote_qty: Decimal,
            fee: Decimal, fee_asset: str | None) -> ExecutionReport:
    raw = str(doc.get("status", ""))
    status, reason = status_of(raw, executed)
    return ExecutionReport(
        status=status,
        executed_qty=executed,
        avg_price=avg,
        quote_qty=quote_qty,
        fee=fee,
        fee_asset=fee_asset,
        exchange_order_id=str(doc["orderId"]) if doc.get("orderId") is not None else None,
        reason=reason,
        message=_message(raw, executed, doc),
        raw_status=raw or None,
    )


def status_of(raw: str, executed: Decimal) -> tuple[Status, Reason | None]:
    """Binance order status → result status; an order that ended early keeps what it filled."""
    if raw == "FILLED":
        return Status.FILLED, None
    if raw == "PARTIALLY_FILLED":
        return Status.PARTIALLY_FILLED, Reason.PARTIAL_FILL
    if raw == "NEW":
        return Status.NEW, Reason.ORDER_OPEN
    if raw in _CLOSED and executed > 0:
        return Status.PARTIALLY_FILLED, Reason.PARTIAL_FILL
    if raw in _CLOSED:
        return Status.REJECTED, Reason.ORDER_CANCELED
    return Status.FAILED, Reason.EXCHANGE_REJECTED


def _message(raw: str, executed: Decimal, doc: Mapping[str, Any]) -> str:
    if raw == "FILLED":
        return ""
    orig = dec(doc.get("origQty"))
    return f"exchange status {raw or 'missing'}: {executed.normalize():f} of {orig.normalize():f} filled"
