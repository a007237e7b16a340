"""Binance order documents (spot FULL/RESULT and query responses, USD-M RESULT and query) → reports.

Pure functions. Spot gives fills with commissions; USD-M gives avgPrice and cumQuote but no fees
(they live in /fapi/v1/userTrades, which costs another request per order), so a USD-M report's
fee is 0 and its fee_asset None.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Mapping

from app.exchange.base import ExecutionReport
from app.exchange.binance.updates import dec
from app.models.result import Reason, Status

ZERO = Decimal(0)
_CLOSED = {"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED", "PENDING_CANCEL"}


def spot_report(doc: Mapping[str, Any]) -> ExecutionReport:
    executed = dec(doc.get("executedQty"))
    quote_qty = dec(doc.get("cummulativeQuoteQty"))
    fills = doc.get("fills") or ()
    fee = sum((dec(f.get("commission")) for f in fills), ZERO)
    assets = Counter(f.get("commissionAsset") for f in fills if f.get("commissionAsset"))
    avg = quote_qty / executed if executed > 0 and quote_qty > 0 else None
    return _report(doc, executed, avg, quote_qty, fee, assets.most_common(1)[0][0] if assets else None)


def futures_report(doc: Mapping[str, Any]) -> ExecutionReport:
    executed = dec(doc.get("executedQty"))
    avg = dec(doc.get("avgPrice"))
    quote_qty = dec(doc.get("cumQuote"))
    if quote_qty == 0 and executed > 0 and avg > 0:
        quote_qty = executed * avg
    return _report(doc, executed, avg if avg > 0 else None, quote_qty, ZERO, None)


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
