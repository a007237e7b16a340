"""The venue stage of the pipeline: orders for intents admitted now, look-ups for intents resumed.

An order whose outcome is unknown leaves its entry pending (verdict BUSY), resolved on redelivery by
looking the client order id up first, so it is never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import nullcontext

from app.exchange.base import ExchangeAdapter, ExecutionReport, OrderRequest
from app.execution.spans import ORDER_CREATE, ORDER_QUERY, PipelineSpans
from app.execution.work import Work
from app.models.intent import Intent
from app.state.gate import Admission, Verdict

log = logging.getLogger(__name__)


class VenueStage:
    def __init__(self, exchange: ExchangeAdapter, spans: PipelineSpans) -> None:
        self._exchange = exchange
        self._spans = spans

    async def run(self, works: list[Work]) -> None:
        """Send the orders of intents admitted now; look up those of intents resumed after a crash."""
        sends = [w for w in works if w.admission and w.admission.verdict is Verdict.OK and w.staged is None]
        resumes = [w for w in works if w.admission and w.admission.verdict is Verdict.RESUME
                   and w.admission.admitted]
        if sends:
            for w in sends:
                self._spans.exchange(w.trace, ORDER_CREATE)
            with self._spans.current(sends[0].trace) if len(sends) == 1 else nullcontext():
                reports = await self._exchange.place_orders([self._request(w) for w in sends])
            for w, report in zip(sends, reports):
                self._spans.exchange_done(w.trace, report)
                self.take(w, report)
        if resumes:
            reports = await asyncio.gather(*(self._resolve(w) for w in resumes), return_exceptions=True)
            for w, report in zip(resumes, reports):
                self.take(w, report)

    def _request(self, w: Work) -> OrderRequest:
        assert w.prepared is not None and w.prepared.request is not None
        return w.prepared.request

    async def _resolve(self, w: Work) -> ExecutionReport | None:
        """An admitted intent seen again after a crash: find its order; send only if none exists."""
        assert isinstance(w.parsed, Intent)
        found = await self._spans.call(w.trace, ORDER_QUERY,
                                       self._exchange.query_order(w.parsed.symbol, w.parsed.client_order_id))
        if found is not None:
            with self._spans.current(w.trace):
                log.info("intent %s resolved from the venue after redelivery", w.parsed.intent_id)
            return found
        if w.dead_letter or w.prepared is None or w.prepared.request is None:
            return None
        return await self._spans.call(w.trace, ORDER_CREATE, self._exchange.place_order(w.prepared.request))

    def take(self, w: Work, report: ExecutionReport | BaseException | None) -> None:
        if isinstance(report, BaseException):
            with self._spans.current(w.trace):
                log.warning("intent %s: order outcome unknown (%s); left pending for resolution",
                            getattr(w.parsed, "intent_id", "?"), type(report).__name__)
            w.admission = Admission(Verdict.BUSY)
            return
        w.report = report
