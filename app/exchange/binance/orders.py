"""Sending one order so that it exists at most once, and finding out what became of it.

After a timeout, a reset connection, an HTTP 5xx or -1007 the order may exist: it is looked up
by client order id with backoff, never resent blindly. Binance accepts a signed request only
until its timestamp + recvWindow, so an order still absent (-2013) after that moment can no
longer appear, and only then is it sent again. A 429/418 or -1021 means the request was refused
unread: the transport retries it (after the pause, within the deadline). If the deadline passes
with the outcome unknown, ``OutcomeUnknown`` tells the pipeline to keep the intent pending and ask
``query_order`` later.
"""

from __future__ import annotations

import logging
import time

from app.backoff import Backoff
from app.exchange.base import ExecutionReport, OrderRequest, OutcomeUnknown
from app.exchange.binance.errors import ExchangeFailure, Kind
from app.exchange.binance.transport import Transport

log = logging.getLogger(__name__)
MAX_SENDS = 3
LOOKUP_GRACE_MS = 1000
_FIRST_DELAY_S, _MAX_DELAY_S = 0.2, 2.0  # between a send that never arrived and the next, and between look-ups
_RESOLVED_BY_LOOKUP = (Kind.UNKNOWN_OUTCOME, Kind.DUPLICATE)


class OrderSender:
    def __init__(self, transport: Transport, recv_window_ms: int) -> None:
        self._t = transport
        self._recv_window_ms = recv_window_ms

    async def send(self, request: OrderRequest, deadline: float) -> ExecutionReport:
        """The order's report; raises OutcomeUnknown only when look-ups could not settle it in time."""
        params = self._t.api.order_params(request)
        backoff = Backoff(base=_FIRST_DELAY_S, cap=_MAX_DELAY_S)
        for _ in range(MAX_SENDS):
            try:
                return self._t.api.report(await self._t.call(self._t.api.order_create, deadline, **params))
            except ExchangeFailure as failure:
                error, sent_at = failure.error, failure.sent_at_ms
            if error.kind in _RESOLVED_BY_LOOKUP and sent_at is not None:
                log.warning("order %s: %s; looking it up", request.client_order_id, error.message)
                found = await self.resolve(request, sent_at, deadline)
                if found is not None:
                    found.message = found.message or f"outcome found by look-up after: {error.message}"
                    return found
                log.warning("order %s does not exist at the exchange and no longer can; sending again",
                            request.client_order_id)
            elif error.kind is Kind.UNAVAILABLE:  # never reached the exchange: safe to send again
                await backoff.sleep(min(backoff.next_delay(), max(0.0, deadline - time.monotonic())))
            else:
                return error.report()
            if time.monotonic() >= deadline:
                break
        report = error.report()
        if error.kind in _RESOLVED_BY_LOOKUP:
            report.message += " (look-ups confirm the order does not exist)"
        return report

    async def resolve(self, request: OrderRequest, sent_at_ms: int, deadline: float) -> ExecutionReport | None:
        """Look the order up until known; None once it is absent after its recvWindow has passed."""
        backoff = Backoff(base=_FIRST_DELAY_S, cap=_MAX_DELAY_S)
        while True:
            delay = backoff.next_delay()
            try:
                found = await self.query(request.symbol, request.client_order_id, deadline)
            except ExchangeFailure as failure:
                log.warning("looking up %s failed: %s", request.client_order_id, failure.error.message)
            else:
                if found is not None:
                    return found
                if self._t.clock.now_ms() > sent_at_ms + self._recv_window_ms + LOOKUP_GRACE_MS:
                    return None
            if time.monotonic() + delay >= deadline:
                raise OutcomeUnknown(f"order {request.client_order_id} on {request.symbol}: outcome still unknown "
                                     f"at the deadline; resolve it with query_order")
            await backoff.sleep(delay)

    async def query(self, symbol: str, client_order_id: str, deadline: float) -> ExecutionReport | None:
        try:
            doc = await self._t.call(self._t.api.order_query, deadline, symbol=symbol,
                                     origClientOrderId=client_order_id)
        except ExchangeFailure as failure:
            if failure.error.kind is Kind.NOT_FOUND:
                return None
            raise
        return self._t.api.report(doc)

