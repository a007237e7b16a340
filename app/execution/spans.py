"""The spans of every intent in a batch: one ``process trade.intent`` tree per stream entry.

The pipeline serves a batch with one Redis round trip per stage, yet each intent gets its own tree:
its stage spans (``risk evaluate``, ``exchange <endpoint>``, ``state write``, ``send
execution.result``) are children of its process span, started and ended around the shared round
trip. With tracing off no span is made and nothing is parsed per intent: the producer's
``traceparent``/``tracestate`` go into the result entry as they came (a trace crosses a replica with
tracing off unbroken), and are parsed only when a log line about the intent is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Mapping, TypeVar

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span

from app.exchange.base import ExecutionReport, OutcomeUnknown
from app.keys import Keys
from app.models.result import Reason
from app.state.gate import Admission
from app.state.ledger import Settlement
from app.telemetry.tracing import EXCHANGE_OUTCOME, Tracing, extract

T = TypeVar("T")
ORDER_CREATE, ORDER_QUERY = "order_create", "order_query"  # the Binance adapter's endpoint names
# Same words as the exchange latency metric's ``outcome`` label (the Binance adapter's error kinds).
_OUTCOMES = {Reason.EXCHANGE_FILTER: "filter", Reason.INSUFFICIENT_BALANCE: "balance",
             Reason.EXCHANGE_REJECTED: "rejected", Reason.RATE_LIMITED: "rate_limit",
             Reason.EXCHANGE_AUTH: "auth", Reason.EXCHANGE_UNAVAILABLE: "unavailable"}


@dataclass(slots=True)
class IntentTrace:
    """One entry's process span and the stage spans open under it now."""

    process: Span
    stages: tuple[Span, ...] = ()
    ended: bool = False
    carrier: Mapping[str, str] | None = None  # tracing off: the producer's fields, unparsed
    send: Span | None = None  # the result's PRODUCER span, once settlement is prepared


def exchange_outcome(report: ExecutionReport | BaseException | None) -> str:
    if report is None:
        return "not_found"
    if isinstance(report, OutcomeUnknown):
        return "unknown_outcome"
    if isinstance(report, BaseException):
        return "error"
    return _OUTCOMES.get(report.reason, "ok")  # type: ignore[arg-type]


class PipelineSpans:
    def __init__(self, tracing: Tracing, keys: Keys) -> None:
        self.tracing = tracing
        self._on = tracing.enabled
        self._stream = keys.intent_stream
        self._group = keys.group
        self._results = keys.result_stream

    def begin(self, entry_id: str, carrier: Mapping[str, str] | None) -> IntentTrace:
        """The CONSUMER span of one entry, continuing the producer context in ``carrier``."""
        if self._on:
            return IntentTrace(self.tracing.start_process(carrier or {}, stream=self._stream, entry_id=entry_id,
                                                          group=self._group))
        return IntentTrace(INVALID_SPAN, carrier=carrier)

    def current(self, t: IntentTrace) -> Any:
        """Make the entry's innermost open span current, so log lines carry its trace and span ids."""
        if not self._on:
            return self.tracing.current(trace.get_current_span(extract(t.carrier)) if t.carrier else INVALID_SPAN)
        return self.tracing.current(t.stages[-1] if t.stages else t.process)

    def end(self, t: IntentTrace, status: str, reason: str | None = None, error: BaseException | None = None) -> None:
        """Close whatever is still open (a failed stage) and the process span itself; once."""
        if t.ended or not self._on:
            return
        t.ended = True
        self._close(t, error)
        t.process.set_attribute("execution.status", status)
        if reason:
            t.process.set_attribute("execution.reason", reason)
        self.tracing.finish(t.process, error)

    # -- risk: the stateless checks, then the admission gate's round trip ---------------------------
    def risk(self, t: IntentTrace, intent_id: str) -> None:
        if self._on:
            t.process.set_attribute("execution.intent_id", intent_id)
            t.stages = (self.tracing.start_span("risk evaluate", parent=t.process),)

    def risk_done(self, t: IntentTrace, admission: Admission) -> None:
        """Close the risk span (the first open stage; a settlement prepared ahead may be open too)."""
        if not self._on:
            return
        span, t.stages = t.stages[0], t.stages[1:]
        span.set_attribute("risk.verdict", admission.verdict.value)
        if admission.reason:
            span.set_attribute("risk.reason", admission.reason)
        self.tracing.finish(span)

    # -- the venue ------------------------------------------------------------------------------------
    def exchange(self, t: IntentTrace, endpoint: str) -> None:
        if self._on:
            t.stages = (self.tracing.start_exchange(endpoint, parent=t.process),)

    def exchange_done(self, t: IntentTrace, report: ExecutionReport | BaseException | None) -> None:
        if not self._on:
            return
        (span,) = t.stages
        self._report(span, report)
        self._close(t, report if isinstance(report, BaseException) else None)

    def booked(self, t: IntentTrace, started_ns: int, report: ExecutionReport | BaseException) -> None:
        """The CLIENT span of an order booked inside the admission call that began at ``started_ns``."""
        if self._on:
            span = self.tracing.start_exchange(ORDER_CREATE, parent=t.process, start_time=started_ns)
            self._report(span, report)
            self.tracing.finish(span, report if isinstance(report, BaseException) else None)

    @staticmethod
    def _report(span: Span, report: ExecutionReport | BaseException | None) -> None:
        span.set_attribute(EXCHANGE_OUTCOME, exchange_outcome(report))
        if isinstance(report, ExecutionReport):
            span.set_attribute("exchange.order_status", report.raw_status or report.status.value)
            if report.exchange_code is not None:
                span.set_attribute("exchange.code", report.exchange_code)

    async def call(self, t: IntentTrace, endpoint: str, call: Awaitable[T]) -> T:
        """One adapter call of one intent inside its CLIENT span (current: the adapter's logs carry it)."""
        self.exchange(t, endpoint)
        try:
            with self.current(t):
                report = await call
        except BaseException as exc:
            self.exchange_done(t, exc)
            raise
        self.exchange_done(t, report)  # type: ignore[arg-type]
        return report

    # -- settlement: state changes and the result, one script ---------------------------------------
    def settle(self, t: IntentTrace, settlement: Settlement) -> None:
        """Open ``state write`` and ``send execution.result``; the result entry gets the latter's context.

        A settlement prepared ahead of the admission call and not used there is replaced by another
        (a rejection): that one goes out under the spans already open.
        """
        if not self._on:
            if t.carrier:
                settlement.extra_fields.update(t.carrier)
            return
        if t.send is None:
            write = self.tracing.start_span("state write", parent=t.process)
            t.send = self.tracing.start_producer(self._results, parent=t.process)
            t.stages = (*t.stages, write, t.send)
        settlement.extra_fields.update(self.tracing.inject(t.send))

    def settle_done(self, t: IntentTrace, result_id: str) -> None:
        if self._on:
            t.stages[-1].set_attribute("messaging.message.id", result_id)
            self._close(t)

    def _close(self, t: IntentTrace, error: BaseException | None = None) -> None:
        for span in t.stages:
            self.tracing.finish(span, error)
        t.stages = ()
