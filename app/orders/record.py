"""An order's live record in Redis as flat hash fields, and back. Pure.

Numbers are stored as decimal strings (Lua reads them with tonumber); each booked trade is a field
``t:<trade id>`` holding its quantity, so a trade is recognised in the same read as the order, and
each intent that changed the order a field ``a:<intent id>``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from app.orders.machine import Order, OrderStatus

TRADE_PREFIX = "t:"
CAUSE_PREFIX = "a:"  # order_apply.lua marks each intent that changed the order
_TEXT = ("intent_id", "client_order_id", "symbol", "side", "order_type", "mode")
_OPTIONAL_TEXT = ("exchange_order_id", "fee_asset", "traceparent", "cause_intent_id")


def to_fields(order: Order) -> dict[str, str]:
    """Every field but the trades (written one at a time as they are booked)."""
    fields = {name: getattr(order, name) for name in _TEXT}
    fields.update({name: getattr(order, name) or "" for name in _OPTIONAL_TEXT})
    fields.update(
        quantity=_num(order.quantity), price=_num(order.price) if order.price is not None else "",
        status=order.status.value, executed_qty=_num(order.executed_qty), cum_quote=_num(order.cum_quote),
        fee=_num(order.fee), seq=str(order.seq), leverage=str(order.leverage), reduce_only=str(int(order.reduce_only)),
        created_ms=str(order.created_ms), expire_at_ms=str(order.expire_at_ms),
    )
    return fields


def from_fields(raw: Mapping[Any, Any]) -> Order | None:
    """The order in a record read with HGETALL; None for an empty (missing) record."""
    row = {_str(k): _str(v) for k, v in raw.items()}
    if not row.get("intent_id"):
        return None
    return Order(
        **{name: row[name] for name in _TEXT},
        **{name: row.get(name) or None for name in _OPTIONAL_TEXT},
        quantity=Decimal(row["quantity"]), price=Decimal(row["price"]) if row.get("price") else None,
        status=OrderStatus(row["status"]), executed_qty=Decimal(row.get("executed_qty") or 0),
        cum_quote=Decimal(row.get("cum_quote") or 0), fee=Decimal(row.get("fee") or 0), seq=int(row["seq"]),
        leverage=int(row.get("leverage") or 1), reduce_only=row.get("reduce_only") == "1",
        created_ms=int(row.get("created_ms") or 0), expire_at_ms=int(row.get("expire_at_ms") or 0),
        trades={k[len(TRADE_PREFIX):]: Decimal(v) for k, v in row.items() if k.startswith(TRADE_PREFIX)},
        causes=frozenset(k[len(CAUSE_PREFIX):] for k in row if k.startswith(CAUSE_PREFIX)),
    )


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
