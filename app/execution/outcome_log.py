"""One INFO line per answered intent, at a rate a log pipeline can afford.

A line costs more than everything else an intent costs (docs/observability.md): a line for every
outcome halved throughput under a backlog. So in each second the first
OUTCOME_LOG_MAX_PER_S outcomes get their line; the rest are only counted, and when the second is
over one line says how many of each status were not logged. Metrics count every outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from app.models.result import Result

log = logging.getLogger("app.execution.outcomes")
WINDOW_S = 1.0


class OutcomeLog:
    def __init__(self, max_per_s: int, logger: logging.Logger = log,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_per_s
        self._log = logger
        self._clock = clock
        self._window_end = 0.0
        self._written = 0
        self._skipped: dict[str, int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def take(self, status: str) -> bool:
        """True when this outcome gets its own line (``line``); otherwise it is counted for the summary."""
        if not self._log.isEnabledFor(logging.INFO):
            return False
        now = self._clock()
        if now >= self._window_end:
            self.flush()
            self._window_end, self._written = now + WINDOW_S, 0
        if self._written < self._max:
            self._written += 1
            return True
        if not self._skipped:
            self._flush_later(self._window_end - now)
        self._skipped[status] = self._skipped.get(status, 0) + 1
        return False

    def line(self, result: Result, latency_s: float) -> None:
        """The outcome's line; the caller makes the intent's span current, so it carries the trace id."""
        reason = result.reason or ""
        self._log.info("intent %s %s%s%s", result.intent_id, result.status, f" {reason}" if reason else "",
                       " (duplicate)" if result.duplicate else "",
                       extra={"intent_id": result.intent_id, "entry_id": result.intent_entry_id,
                              "status": result.status, "reason": reason or None, "symbol": result.symbol,
                              "latency_ms": round(latency_s * 1000, 3), "duplicate": result.duplicate})

    def flush(self) -> None:
        """Say how many outcomes of the current second were not logged, if any were not."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._skipped:
            return
        skipped, self._skipped = self._skipped, {}
        self._log.info("%d intent outcomes not logged in the last second (OUTCOME_LOG_MAX_PER_S=%d): %s",
                       sum(skipped.values()), self._max,
                       ", ".join(f"{n} {status}" for status, n in sorted(skipped.items())),
                       extra={"not_logged": skipped})

    def _flush_later(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a test driving it by hand): the next window's first call flushes
            return
        self._timer = loop.call_later(max(delay, 0.0), self.flush)
