"""The metrics of each answered intent: results by status and reason, risk rejections, orders, latency.

A duplicate (an intent id answered before, its result re-published) counts as a duplicate only, not
again under its result's status: so the results metric counts what GET /status counts, once per
intent answered.
"""

from __future__ import annotations

from typing import Any

from app.models.result import Reason, Result
from app.telemetry.metrics import Metrics

RISK_REASONS = frozenset({Reason.SYMBOL_NOT_ALLOWED, Reason.LEVERAGE_LIMIT, Reason.POSITION_LIMIT,
                          Reason.EXPOSURE_LIMIT, Reason.ORDER_RATE_LIMIT, Reason.INTENT_EXPIRED,
                          Reason.TRADING_HALTED, Reason.REDUCE_ONLY})


class ResultMetrics:
    def __init__(self, metrics: Metrics, mode: str) -> None:
        self._metrics = metrics
        self._mode = mode
        self._children: dict[tuple[Any, ...], Any] = {}

    def observe(self, result: Result, received: float, now: float) -> None:
        m = self._metrics
        m.intent_latency.observe(now - received)
        if result.duplicate:
            m.duplicates.inc()
            return
        self._child(m.results, result.status, result.reason or "").inc()
        if result.reason in RISK_REASONS:
            self._child(m.risk_rejections, result.reason).inc()
        if result.exchange_order_id is not None or result.exchange_code is not None:
            self._child(m.orders, result.status, self._mode, result.symbol or "").inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: the lookup costs more than the increment."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
