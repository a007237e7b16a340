"""An order as people read it (HTTP answers, the CLI): plain JSON, times as ISO 8601. Pure."""

from __future__ import annotations

from typing import Any

from app.codec import iso_ms
from app.orders.machine import Order


def order_view(order: Order) -> dict[str, Any]:
    avg = order.avg_price
    return {
        "intent_id": order.intent_id, "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id, "symbol": order.symbol, "side": order.side,
        "order_type": order.order_type, "price": float(order.price) if order.price is not None else None,
        "quantity": float(order.quantity), "status": order.status.value,
        "executed_quantity": float(order.executed_qty), "avg_price": float(avg) if avg is not None else None,
        "fee": float(order.fee), "fee_asset": order.fee_asset, "seq": order.seq,
        "created_at": iso_ms(order.created_ms / 1000),
        "expire_at": iso_ms(order.expire_at_ms / 1000) if order.expire_at_ms else None,
        "mode": order.mode,
    }
