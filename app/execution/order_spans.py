"""The spans of an order's later changes: each fill, cancel, expiry or amend continues the order's trace.

An order keeps the W3C ``traceparent`` it went out with (its result's context, app/state/ledger.py),
so a fill an hour later is found in the trace of the intent that placed it (a child of that
intent's ``send execution.result`` span when the replica traced it). Each span covers the lifecycle
call that wrote the change (the venue's cancel, the Redis write); with tracing off nothing is made.
"""

from __future__ import annotations

from typing import Any, Iterable

from app.orders.machine import Change, ExecutionType
from app.telemetry.tracing import Tracing, remote_parent

NAMES = {ExecutionType.TRADE: "order fill", ExecutionType.CANCELED: "order cancel",
         ExecutionType.EXPIRED: "order expire", ExecutionType.AMENDED: "order amend",
         ExecutionType.REJECTED: "order reject", ExecutionType.NEW: "order new"}


def record(tracing: Tracing, changes: Iterable[Change], started_ns: int) -> None:
    """One INTERNAL span per change written, from ``started_ns`` to now, in its order's trace."""
    if not tracing.enabled:
        return
    for change in changes:
        carrier = {"traceparent": change.after.traceparent} if change.after.traceparent else {}
        span = tracing.start_span(NAMES[change.update.execution_type], attributes=attributes(change),
                                  parent=remote_parent(carrier), start_time=started_ns)
        tracing.finish(span)


def attributes(change: Change) -> dict[str, Any]:
    order, update, fill = change.after, change.update, change.fill
    out: dict[str, Any] = {"execution.intent_id": order.intent_id, "order.symbol": order.symbol,
                           "order.side": order.side, "order.status": order.status.value, "order.seq": order.seq,
                           "order.executed_qty": float(order.executed_qty)}
    if order.exchange_order_id:
        out["order.exchange_order_id"] = order.exchange_order_id
    if fill is not None:
        out.update({"order.trade_id": fill.trade_id, "order.last_fill_qty": float(fill.quantity),
                    "order.last_fill_price": float(fill.price)})
    if update.reason:
        out["order.reason"] = update.reason
    if update.cause_intent_id:
        out["order.cause_intent_id"] = update.cause_intent_id
    return out
