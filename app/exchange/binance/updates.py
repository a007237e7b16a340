"""Binance's answers to a cancel, a modify or a cancel-replace → the ``VenueUpdate`` the service books. Pure.

Quantities are the service's: an order amended on spot is a chain of Binance orders (cancel-replace
makes a new one), and the service's ``Order.quantity`` is what the earlier ones executed plus the
current one's ``origQty``. So the order's cumulative executed quantity is what the chain carried
plus the current Binance order's ``executedQty``; for an order never replaced (and for USD-M, whose
modify keeps the order) the carried part is zero.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from app.orders.machine import ExecutionType, Fill, Order, OrderStatus, VenueUpdate

ZERO = Decimal(0)
OPEN = ("NEW", "PARTIALLY_FILLED")
_ENDS = {"CANCELED": OrderStatus.CANCELED, "PENDING_CANCEL": OrderStatus.CANCELED,
         "EXPIRED": OrderStatus.EXPIRED, "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
         "REJECTED": OrderStatus.REJECTED, "FILLED": OrderStatus.FILLED}


def replacement_client_order_id(client_order_id: str) -> str:
    """The client order id of the order that replaces ``client_order_id`` on spot: derived, so a
    cancel-replace sent again after an unknown outcome names the same new order, and it can be
    looked up. 35 chars of [a-z0-9-], like the ids made from intent ids."""
    return "ex-" + hashlib.sha256(f"replace:{client_order_id}".encode()).hexdigest()[:32]


def carried(order: Order, doc: Mapping[str, Any]) -> Decimal:
    """What earlier orders of the chain executed (0 unless the order was replaced on spot)."""
    return max(order.quantity - dec(doc.get("origQty")), ZERO)


def cumulative(order: Order, doc: Mapping[str, Any]) -> Decimal:
    return carried(order, doc) + dec(doc.get("executedQty"))


def ended(order: Order, doc: Mapping[str, Any]) -> VenueUpdate | None:
    """The update for a Binance order that is final; None while it is still open.

    CANCELED/EXPIRED/REJECTED carry the cumulative executed quantity, so fills that raced the
    cancel are booked (as the difference, app/orders/machine.py ``_end``). FILLED is a TRADE of
    what was not booked yet, at the Binance order's average price.
    """
    raw = str(doc.get("status", ""))
    status = _ENDS.get(raw)
    if status is None:
        return None
    executed, order_id = cumulative(order, doc), _order_id(doc)
    if status is OrderStatus.FILLED and executed > order.executed_qty:
        return grown(order, doc, executed, OrderStatus.FILLED)
    kind = {OrderStatus.EXPIRED: ExecutionType.EXPIRED, OrderStatus.REJECTED: ExecutionType.REJECTED}.get(
        status, ExecutionType.CANCELED)
    return VenueUpdate(kind, status, executed_qty=executed, exchange_order_id=order_id)


def grown(order: Order, doc: Mapping[str, Any], executed: Decimal,
          status: OrderStatus = OrderStatus.PARTIALLY_FILLED) -> VenueUpdate | None:
    """A TRADE of what Binance executed beyond what is booked (None when nothing is new).

    Its trade id is the Binance order id and the cumulative quantity reached, the same for every
    replica and every report of that state, and it carries that cumulative quantity, so the state
    machine books each unit of the order's fills once whichever channel reports it first. Its price
    is the Binance order's average price (a resting LIMIT order's fills are at its limit), else the
    limit price.
    """
    unbooked = executed - order.executed_qty
    if unbooked <= 0:
        return None
    order_id = _order_id(doc)
    fill = Fill(f"{order_id}:{executed.normalize():f}", unbooked, average_price(doc) or order.price or ZERO)
    return VenueUpdate(ExecutionType.TRADE, status, fill=fill, executed_qty=executed, exchange_order_id=order_id)


def amended(order: Order, doc: Mapping[str, Any], carried_qty: Decimal, client_order_id: str | None = None
            ) -> VenueUpdate:
    """AMENDED to the Binance order ``doc`` (modified in place, or the replacement on spot)."""
    return VenueUpdate(ExecutionType.AMENDED, order.status, price=dec(doc.get("price")) or None,
                       quantity=carried_qty + dec(doc.get("origQty")), exchange_order_id=_order_id(doc),
                       client_order_id=client_order_id)


def average_price(doc: Mapping[str, Any]) -> Decimal | None:
    executed = dec(doc.get("executedQty"))
    quote = dec(doc.get("cumQuote") or doc.get("cummulativeQuoteQty"))
    return quote / executed if executed > 0 and quote > 0 else None


def is_open(doc: Mapping[str, Any]) -> bool:
    return doc.get("status") in OPEN


def _order_id(doc: Mapping[str, Any]) -> str | None:
    return str(doc["orderId"]) if doc.get("orderId") is not None else None


def dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        return ZERO
