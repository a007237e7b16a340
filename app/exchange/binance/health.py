"""What this replica knows about the venue's usability, as /health's component and as metrics.

DOWN: not started, credentials rejected (-2015/-1022), or an IP ban (418) in force — orders
cannot succeed. DEGRADED: a 429 pause, or three calls in a row that failed in transport.
Messages come from Binance's error texts and our own wording; never from credentials.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from app.exchange.base import ComponentStatus, Health
from app.exchange.ratelimit import BAN, Pause
from app.exchange.window import PauseWindow
from app.telemetry.metrics import Metrics

FAILURES_FOR_DEGRADED = 3


class ExchangeState:
    def __init__(self, market: str, mode: str) -> None:
        self.market = market
        self.mode = mode
        self.start_error: str | None = "not started"
        self.auth_error: str | None = None
        self.used_weight_1m: int | None = None
        self.weight_limit_1m: int | None = None
        self.clock_offset_ms: int | None = None
        self.failures = 0
        self.last_error: str | None = None
        self.window = PauseWindow()  # enforced at the wire by this replica's HTTP session (app/exchange/window.py)

    def note_pause(self, pause: Pause | None) -> None:
        """Hold the shared pause read from Redis or learnt from a response. Its absence shortens nothing:
        a window the exchange gave this replica runs to its end."""
        if pause is not None:
            self.window.hold(pause.remaining_s, pause.kind, pause.message)

    def note_call(self, failed_in_transport: bool, message: str | None = None) -> None:
        self.failures = self.failures + 1 if failed_in_transport else 0
        if failed_in_transport:
            self.last_error = message

    def pause_left(self) -> float:
        return self.window.left()

    def banned(self) -> bool:
        pause = self.window.current()
        return pause is not None and pause.kind == BAN

    def component(self, exchange_info_age_s: float | None) -> ComponentStatus:
        details: dict[str, object] = {"market": self.market, "mode": self.mode}
        for name in ("used_weight_1m", "weight_limit_1m", "clock_offset_ms"):
            if getattr(self, name) is not None:
                details[name] = getattr(self, name)
        if exchange_info_age_s is not None:
            details["exchange_info_age_s"] = round(exchange_info_age_s, 1)
        left = self.pause_left()
        if left > 0:
            until = datetime.fromtimestamp(time.time() + left, timezone.utc).isoformat(timespec="seconds")
            details["ban_until" if self.banned() else "paused_until"] = until
        if self.start_error:
            return ComponentStatus(Health.DOWN, f"exchange not started: {self.start_error}", details)
        if self.auth_error:
            return ComponentStatus(Health.DOWN, f"credentials rejected: {self.auth_error}", details)
        if self.banned():
            return ComponentStatus(Health.DOWN, f"IP banned by the exchange (HTTP 418) for {left:.0f}s more",
                                   details)
        if left > 0:
            return ComponentStatus(Health.DEGRADED, f"rate limited (HTTP 429): paused for {left:.0f}s", details)
        if self.failures >= FAILURES_FOR_DEGRADED:
            return ComponentStatus(Health.DEGRADED, f"{self.failures} failed calls in a row: {self.last_error}",
                                   details)
        return ComponentStatus(Health.UP, "", details)

    def publish(self, metrics: Metrics) -> None:
        status = self.component(None).status
        metrics.exchange_up.set(0 if status is Health.DOWN else 1)
        metrics.exchange_banned.set(1 if self.pause_left() > 0 else 0)
        if self.used_weight_1m is not None and self.weight_limit_1m:
            metrics.rate_limit_used.set(self.used_weight_1m / self.weight_limit_1m)
