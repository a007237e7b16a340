"""Building results from what happened to an intent: pure functions, one per kind of outcome."""

from __future__ import annotations

from typing import Any

from app.codec import iso_ms
from app.exchange.base import ExecutionReport
from app.models.actions import OrderAction
from app.models.intent import Intent, InvalidIntent
from app.models.result import Reason, Result, Status
from app.orders.machine import Order

FAILURE_REASONS = frozenset({Reason.EXCHANGE_UNAVAILABLE, Reason.DEAD_LETTER, Reason.EXCHANGE_AUTH})


def status_for(reason: Reason) -> Status:
    return Status.FAILED if reason in FAILURE_REASONS else Status.REJECTED


def _intent_fields(intent: Intent) -> dict[str, Any]:
    return dict(
        intent_id=intent.intent_id, intent_entry_id=intent.entry_id, symbol=intent.symbol, side=intent.side,
        order_type=intent.order_type, requested_quantity=intent.quantity, requested_notional_usd=intent.notional_usd,
        client_order_id=intent.client_order_id, leverage=intent.leverage, reduce_only=intent.reduce_only,
        source=intent.source, strategy=intent.strategy, confidence=intent.confidence,
    )


def _timing(received: float, now: float) -> dict[str, Any]:
    return dict(received_at=iso_ms(received), executed_at=iso_ms(now), latency_ms=round((now - received) * 1000, 3))


def invalid(bad: InvalidIntent, mode: str, consumer: str, received: float, now: float,
            reason: Reason = Reason.INVALID_INTENT) -> Result:
    return Result.trusted(intent_id=bad.intent_id, intent_entry_id=bad.entry_id, status=status_for(reason),
                          reason=reason, message=bad.message, mode=mode, symbol=bad.symbol, side=bad.side,
                          consumer=consumer, **_timing(received, now))


def denied(intent: Intent, reason: Reason, message: str, mode: str, consumer: str, received: float,
           now: float, requested_quantity: float | None = None) -> Result:
    fields = _intent_fields(intent)
    if requested_quantity is not None:
        fields["requested_quantity"] = requested_quantity
    return Result.trusted(status=status_for(reason), reason=reason, message=message, mode=mode, consumer=consumer,
                          **fields, **_timing(received, now))


def executed(intent: Intent, quantity: float, report: ExecutionReport, mode: str, consumer: str,
             received: float, now: float) -> Result:
    fields = _intent_fields(intent)
    fields["requested_quantity"] = quantity
    avg = float(report.avg_price) if report.avg_price is not None and report.executed_qty > 0 else None
    reason = report.reason
    if report.status is Status.PARTIALLY_FILLED and reason is None:
        reason = Reason.PARTIAL_FILL
    return Result.trusted(
        status=report.status, reason=reason, message=report.message or _fill_message(report),
        mode=mode, consumer=consumer, executed_quantity=float(report.executed_qty), avg_price=avg,
        notional_usd=float(report.quote_qty), fee=float(report.fee), fee_asset=report.fee_asset,
        exchange_order_id=report.exchange_order_id, exchange_code=report.exchange_code,
        exchange_message=report.message if report.exchange_code is not None else None,
        **fields, **_timing(received, now),
    )


def action(act: OrderAction, status: Status, reason: Reason | None, message: str, target: Order | None,
           mode: str, consumer: str, received: float, now: float, **extra: Any) -> Result:
    """The answer to a CANCEL, CANCEL_ALL or AMEND intent; ``target`` is its order as it stands now."""
    order: dict[str, Any] = {}
    if target is not None:
        order = dict(side=target.side, order_type=target.order_type, client_order_id=target.client_order_id,
                     exchange_order_id=target.exchange_order_id, requested_quantity=float(target.quantity),
                     leverage=target.leverage, reduce_only=target.reduce_only)
    return Result.trusted(
        intent_id=act.intent_id, intent_entry_id=act.entry_id, status=status, reason=reason, message=message,
        mode=mode, consumer=consumer, symbol=target.symbol if target is not None else act.symbol,
        action=act.action, target_intent_id=act.target_intent_id, source=act.source, strategy=act.strategy,
        **order, **extra, **_timing(received, now))


def duplicate(original_json: str, entry_id: str, received: float, now: float) -> Result:
    original = Result.model_validate_json(original_json)
    return original.model_copy(update=dict(
        intent_entry_id=entry_id, duplicate=True, received_at=iso_ms(received),
        latency_ms=round((now - received) * 1000, 3),
        message=f"duplicate of an intent already answered: {original.message}".rstrip(": "),
    ))


def _fill_message(report: ExecutionReport) -> str:
    if report.executed_qty > 0:
        return f"filled {report.executed_qty.normalize():f} at {report.avg_price}"
    return str(report.raw_status or report.status)
