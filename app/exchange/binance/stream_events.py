"""Binance user-data stream order events → the ``VenueUpdate`` the service books. Pure.

Two shapes, the same letters (Binance's docs: spot user-data-stream.md "Order Update"; USD-M
"Event: Order Update"): spot ``executionReport`` at the top level (delivered by the WebSocket API
subscription wrapped as ``{"subscriptionId": …, "event": {…}}``), USD-M ``ORDER_TRADE_UPDATE`` under
``o``. ``x`` execution type, ``X`` order status, ``i`` order id, ``c`` client order id, ``q``
quantity, ``p`` price, ``l``/``L`` last fill quantity and price, ``z`` cumulative quantity, ``n``/``N``
commission and its asset, ``t`` trade id, ``rp`` (USD-M) the fill's realized profit.

A TRADE is booked under Binance's trade id with the cumulative quantity ``z``, so the state machine
books only what no other channel (the polling backstop's ``<orderId>:<cumulative>``, a cancel's
answer) booked already, and a duplicated or late event books nothing. An event that arrives before
an earlier one (``z`` minus ``l`` above what is booked) books the gap too, at its own price: the
order's quantity is then right at once, and the earlier event, when it comes, books nothing. A spot order amended by
cancel-replace is a chain of Binance orders: its quantities are the chain's (updates.py
``carried``). The commission is valued in the quote asset as fees.py does; one in a third asset
(BNB) needs its price, given in ``prices``, else it is left out of the fee (listed as unvalued).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from app.config import Market
from app.exchange.binance.reports import fee_in_quote
from app.exchange.binance.updates import ZERO, dec
from app.orders.machine import ExecutionType, Fill, Order, OrderStatus, VenueUpdate

SPOT_EVENT, USDM_EVENT, EXPIRED_KEY = "executionReport", "ORDER_TRADE_UPDATE", "listenKeyExpired"
_STATUS = {"NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
           "CANCELED": OrderStatus.CANCELED, "PENDING_CANCEL": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED,
           "EXPIRED_IN_MATCH": OrderStatus.EXPIRED, "REJECTED": OrderStatus.REJECTED}
_END_KIND = {OrderStatus.CANCELED: ExecutionType.CANCELED, OrderStatus.EXPIRED: ExecutionType.EXPIRED,
             OrderStatus.REJECTED: ExecutionType.REJECTED}


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One order event as Binance sent it, typed."""

    client_order_id: str
    symbol: str
    execution_type: str
    status: str
    order_id: str | None
    quantity: Decimal
    price: Decimal
    last_qty: Decimal
    last_price: Decimal
    cumulative_qty: Decimal
    commission: Decimal
    commission_asset: str | None
    trade_id: str | None
    event_ms: int
    realized_pnl: Decimal | None = None


def unwrap(message: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event itself: the WebSocket API subscription wraps it in ``event``; a combined stream in ``data``."""
    for wrapper in ("event", "data"):
        inner = message.get(wrapper)
        if isinstance(inner, Mapping):
            return inner
    return message


def event_type(message: Mapping[str, Any]) -> str:
    return str(unwrap(message).get("e", ""))


def parse(message: Mapping[str, Any]) -> OrderEvent | None:
    """The order event in ``message``; None for any other event (account, balance, listenKeyExpired)."""
    doc = unwrap(message)
    kind = doc.get("e")
    if kind == USDM_EVENT and isinstance(doc.get("o"), Mapping):
        body, pnl = doc["o"], dec(doc["o"].get("rp"))
    elif kind == SPOT_EVENT:
        body, pnl = doc, None
    else:
        return None
    if not body.get("c") or not body.get("x"):
        return None
    trade = body.get("t")
    return OrderEvent(
        client_order_id=str(body["c"]), symbol=str(body.get("s", "")), execution_type=str(body["x"]),
        status=str(body.get("X", "")), order_id=str(body["i"]) if body.get("i") is not None else None,
        quantity=dec(body.get("q")), price=dec(body.get("p")), last_qty=dec(body.get("l")),
        last_price=dec(body.get("L")), cumulative_qty=dec(body.get("z")), commission=dec(body.get("n")),
        commission_asset=str(body["N"]) if body.get("N") else None,
        trade_id=str(trade) if trade not in (None, "", -1, 0) else None,
        event_ms=int(dec(doc.get("E") or doc.get("T"))), realized_pnl=pnl,
    )


def venue_update(event: OrderEvent, order: Order, market: Market, base: str, quote: str,
                 prices: Mapping[str, Decimal] | None = None) -> tuple[VenueUpdate | None, list[str]]:
    """What ``event`` says of ``order`` (None when nothing to book) and the commission assets that
    could not be valued in ``quote``."""
    carried = max(order.quantity - event.quantity, ZERO) if market is Market.SPOT else ZERO
    executed = carried + event.cumulative_qty
    status = _STATUS.get(event.status)
    if event.execution_type == "TRADE":
        return _trade(event, max(event.last_qty, executed - order.executed_qty), executed, status, base, quote,
                      prices or {})
    if status is not None and status.final and status is not OrderStatus.FILLED:
        return VenueUpdate(_END_KIND[status], status, executed_qty=executed, exchange_order_id=event.order_id), []
    if event.execution_type == "NEW" and status is OrderStatus.NEW:
        return VenueUpdate(ExecutionType.NEW, OrderStatus.NEW, exchange_order_id=event.order_id), []
    if event.execution_type == "AMENDMENT" and market is Market.USDM and status is not None:
        return VenueUpdate(ExecutionType.AMENDED, order.status, price=event.price or None, quantity=event.quantity,
                           exchange_order_id=event.order_id), []
    return None, []  # spot REPLACED and its new order: the AMEND intent (or the polling backstop) books it


def _trade(event: OrderEvent, quantity: Decimal, executed: Decimal, status: OrderStatus | None, base: str, quote: str,
           prices: Mapping[str, Decimal]) -> tuple[VenueUpdate | None, list[str]]:
    if event.trade_id is None or event.last_qty <= 0 or event.last_price <= 0:
        return None, []
    fee, unvalued = ZERO, []
    if event.commission_asset and event.commission:
        fee, unvalued = fee_in_quote({event.commission_asset: event.commission}, base, quote, event.last_price,
                                     prices)
    fill = Fill(event.trade_id, quantity, event.last_price, fee=fee, fee_asset=quote if fee else None)
    after = status if status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED) else OrderStatus.PARTIALLY_FILLED
    return VenueUpdate(ExecutionType.TRADE, after, fill=fill, executed_qty=executed,
                       exchange_order_id=event.order_id), unvalued
