"""The order events published to ``execution.order``: one per change of an order. Pure.

The schema is docs/schemas/order-event.schema.json. ``event_id`` is ``<intent id>:<seq>``: stable
across replicas and redeliveries (a change is written once, with its seq), so consumers dedupe on it.
"""

from __future__ import annotations

from typing import Any

from app.codec import iso_ms
from app.orders.machine import Change, ExecutionType, Fill, Order, OrderStatus


def event(order: Order, execution_type: ExecutionType, now: float, fill: Fill | None = None,
          reason: str | None = None, cause_intent_id: str | None = None,
          traceparent: str | None = None) -> dict[str, Any]:
    """``traceparent`` stands in for the order's own when given (its first event, before it is stored)."""
    avg = order.avg_price
    return {
        "event_id": f"{order.intent_id}:{order.seq}", "seq": order.seq, "intent_id": order.intent_id,
        "client_order_id": order.client_order_id, "exchange_order_id": order.exchange_order_id,
        "symbol": order.symbol, "side": order.side, "order_type": order.order_type,
        "price": float(order.price) if order.price is not None else None, "quantity": float(order.quantity),
        "status": order.status.value, "execution_type": execution_type.value,
        "executed_quantity": float(order.executed_qty), "avg_price": float(avg) if avg is not None else None,
        "fee": float(order.fee), "fee_asset": order.fee_asset,
        "last_fill_quantity": float(fill.quantity) if fill else None,
        "last_fill_price": float(fill.price) if fill else None, "trade_id": (fill.trade_id or None) if fill else None,
        "reason": reason, "cause_intent_id": cause_intent_id, "mode": order.mode,
        "event_time": iso_ms(now),
        "traceparent": traceparent or order.traceparent,
    }


def change_event(change: Change, now: float) -> dict[str, Any]:
    """A cancel or expiry the venue answers with the rest executed is a TRADE: the fill won the race."""
    update = change.update
    kind = update.execution_type
    if change.fill is not None and change.after.status is OrderStatus.FILLED:
        kind = ExecutionType.TRADE
    return event(change.after, kind, now, change.fill, update.reason, update.cause_intent_id)
