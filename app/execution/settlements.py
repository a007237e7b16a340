"""What to settle for one entry, from what happened to it: pure, no I/O.

The result, the counter it adds to, the reservation to release and the fill to book, for each way an
entry can end: invalid, duplicate, denied by the gate or a stateless check, or executed.
"""

from __future__ import annotations

from app.exchange.base import ExecutionReport
from app.execution import results
from app.execution.prepare import Prepared
from app.models.intent import Intent, InvalidIntent
from app.models.result import Reason, Status
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

    def answered(self, intent: Intent, admission: Admission, prep: Prepared, report: ExecutionReport | None,
                 denial: Denial | None, received: float, now: float) -> Settlement:
        """``report``: the venue's, when an order was placed; else ``denial`` says why none was."""
        mode, consumer = self._mode, self._consumer
        if admission.verdict is Verdict.DUP:
            assert admission.result_json is not None
            return Settlement(results.duplicate(admission.result_json, intent.entry_id, received, now),
                              "duplicates", record_order=False)
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
        filled = float(report.executed_qty) * intent.sign
        trade = None
        if filled:
            trade = dict(intent_id=intent.intent_id, client_order_id=intent.client_order_id,
                         exchange_order_id=report.exchange_order_id, symbol=intent.symbol, side=intent.side,
                         quantity=float(report.executed_qty), price=result.avg_price, fee=result.fee,
                         fee_asset=result.fee_asset, mode=mode, time=result.executed_at)
        return Settlement(result, COUNTERS[result.status], record_order=True, release_qty=reserved,
                          fill_qty=filled, fill_price=result.avg_price or 0.0, trade=trade)
