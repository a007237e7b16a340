"""What to settle for one entry, from what happened to it: pure, no I/O.

The result, the counter it adds to, the reservation to release and the fill to book, for each way an
entry can end: invalid, duplicate, denied by the gate or a stateless check, or executed.
"""

from __future__ import annotations

from decimal import Decimal

from app.exchange.base import ExecutionReport
from app.execution import results
from app.execution.prepare import Prepared
from app.models.intent import Intent, InvalidIntent
from app.models.result import Reason, Status
from app.orders.machine import ExecutionType, Fill, Order, OrderStatus
from app.risk.checks import Denial
from app.state.gate import Admission, Verdict
from app.state.ledger import Settlement

COUNTERS = {Status.FILLED: "filled", Status.PARTIALLY_FILLED: "filled", Status.NEW: "open",
            Status.REJECTED: "rejected", Status.FAILED: "failed"}


class Settlements:
    def __init__(self, mode: str, consumer: str) -> None:
        self._mode = mode
        self._consumer = consumer

    def invalid(self, bad: InvalidIntent, dead_letter: bool, received: float, now: float) -> Settlement:
        reason = Reason.DEAD_LETTER if dead_letter else Reason.INVALID_INTENT
        result = results.invalid(bad, self._mode, self._consumer, received, now, reason)
        return Settlement(result, COUNTERS[result.status], record_order=False)

    def duplicate(self, original_json: str, entry_id: str, received: float, now: float) -> Settlement:
        return Settlement(results.duplicate(original_json, entry_id, received, now), "duplicates",
                          record_order=False)

    def answered(self, intent: Intent, admission: Admission, prep: Prepared, report: ExecutionReport | None,
                 denial: Denial | None, received: float, now: float) -> Settlement:
        """``report``: the venue's, when an order was placed; else ``denial`` says why none was."""
        mode, consumer = self._mode, self._consumer
        if admission.verdict is Verdict.DUP:
            assert admission.result_json is not None
            return self.duplicate(admission.result_json, intent.entry_id, received, now)
        if not admission.admitted:
            result = results.denied(intent, Reason(admission.reason), admission.message, mode, consumer,
                                    received, now, prep.quantity)
            return Settlement(result, COUNTERS[result.status], record_order=True)
        reserved = admission.reserved_qty if admission.verdict is Verdict.RESUME else \
            float(prep.request.quantity) * intent.sign if prep.request else 0.0
        if report is None:
            assert denial is not None
            result = results.denied(intent, denial.reason, denial.message, mode, consumer, received, now,
                                    prep.quantity)
            return Settlement(result, COUNTERS[result.status], record_order=True, release_qty=reserved)
        result = results.executed(intent, prep.quantity or 0.0, report, mode, consumer, received, now)
        order = self._order(intent, prep, report, now)
        if order is not None and not order[0].status.final:  # the rest stays reserved while the order is open
            reserved -= float(order[0].remaining) * intent.sign
        filled = float(report.executed_qty) * intent.sign
        trade = None
        if filled:
            trade = dict(intent_id=intent.intent_id, client_order_id=intent.client_order_id,
                         exchange_order_id=report.exchange_order_id, symbol=intent.symbol, side=intent.side,
                         quantity=float(report.executed_qty), price=result.avg_price, fee=result.fee,
                         fee_asset=result.fee_asset, mode=mode, time=result.executed_at)
        return Settlement(result, COUNTERS[result.status], record_order=True, release_qty=reserved,
                          fill_qty=filled, fill_price=result.avg_price or 0.0, trade=trade,
                          order=order[0] if order else None, order_event=order[1:] if order else None, now=now)

    def _order(self, intent: Intent, prep: Prepared, report: ExecutionReport, now: float,
               ) -> tuple[Order, ExecutionType, Fill | None, str | None] | None:
        """The order the venue answered for, and its first event; None when no order reached the venue."""
        request = prep.request
        if request is None or report.status is Status.FAILED:
            return None
        status = _VENUE_STATUS.get(report.raw_status or "", None) or _RESULT_STATUS[report.status]
        executed = report.executed_qty
        order = Order(
            intent_id=intent.intent_id, client_order_id=request.client_order_id, symbol=intent.symbol,
            side=intent.side, order_type=request.order_type, quantity=request.quantity, price=request.price,
            exchange_order_id=report.exchange_order_id, status=status, executed_qty=executed,
            cum_quote=report.quote_qty or (executed * (report.avg_price or Decimal(0))), fee=report.fee,
            fee_asset=report.fee_asset, leverage=intent.leverage, reduce_only=intent.reduce_only, mode=self._mode,
            created_ms=int(now * 1000), expire_at_ms=int((now + intent.expire_after_s) * 1000)
            if intent.expire_after_s and not status.final else 0)
        fill = Fill("", executed, report.avg_price or Decimal(0), report.fee, report.fee_asset) if executed else None
        if status is OrderStatus.REJECTED:
            return order, ExecutionType.REJECTED, None, report.reason.value if report.reason else None
        if status.final and status is not OrderStatus.FILLED:
            return order, ExecutionType.EXPIRED if status is OrderStatus.EXPIRED else ExecutionType.CANCELED, fill, \
                report.raw_status
        return order, ExecutionType.TRADE if fill else ExecutionType.NEW, fill, None


_VENUE_STATUS = {s.value: s for s in OrderStatus} | {"EXPIRED_IN_MATCH": OrderStatus.EXPIRED}
_RESULT_STATUS = {Status.FILLED: OrderStatus.FILLED, Status.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
                  Status.NEW: OrderStatus.NEW, Status.REJECTED: OrderStatus.REJECTED}
