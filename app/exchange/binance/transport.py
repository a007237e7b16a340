"""Every Binance call goes through ``Transport.call``: budget, call, headers, metrics, pauses.

One place decides, for every endpoint: wait out a Retry-After window this replica knows, take the
request's cost from the shared budget, which holds every replica's pause (or say why not in time),
make the call with its headers captured, pause every replica on 429/418 (first, before any other
bookkeeping), clamp the budget to Binance's counters, remember credential failures for /health,
resync the clock and retry once on -1021. Below it, the HTTP session refuses to write any request
while the window runs (app/exchange/window.py): a 429 read by one task stops the request another
task had already been admitted to send. Failures leave as ``ExchangeFailure``; nothing else escapes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from binance.exceptions import BinanceAPIException, BinanceRequestException
from redis.exceptions import RedisError

from app.config import Settings
from app.exchange.binance.client import BinanceHttp, CallInfo
from app.exchange.binance.clock import ServerClock
from app.exchange.binance.errors import ExchangeError, ExchangeFailure, Kind, from_exception
from app.exchange.binance.health import ExchangeState
from app.exchange.binance.markets import Endpoint, MarketApi
from app.exchange.ratelimit import BAN, THROTTLE, Pause, RateBudget
from app.exchange.window import WindowClosed, pause_seconds
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
# Answers Binance gives a signed request only after accepting its key and signature.
_AUTHENTICATED = (Kind.NOT_FOUND, Kind.FILTER, Kind.BALANCE, Kind.DUPLICATE)
_EXPECTED = (BinanceAPIException, BinanceRequestException, aiohttp.ClientError, TimeoutError)


class Transport:
    def __init__(self, settings: Settings, api: MarketApi, budget: RateBudget, state: ExchangeState,
                 metrics: Metrics) -> None:
        self._settings = settings
        self.api = api
        self.budget = budget
        self.state = state
        self.metrics = metrics
        self.clock = ServerClock()
        self.client: BinanceHttp | None = None

    def open(self) -> None:
        if self.client is None:
            self.client = BinanceHttp(self._settings, self.state.window)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close_connection()
            self.client = None

    def deadline(self) -> float:
        """A deadline one request timeout away, for calls that are not tied to an intent."""
        return time.monotonic() + self._settings.binance_request_timeout_s

    async def call(self, endpoint: Endpoint, deadline: float, **params: Any) -> Any:
        """The call's JSON; retried when refused unread (429/418 after the pause, -1021 once after a resync)."""
        resynced = False
        while True:
            try:
                return await self._once(endpoint, deadline, params)
            except ExchangeFailure as failure:
                error = failure.error
                if error.kind is Kind.CLOCK and not resynced and endpoint is not self.api.time:
                    log.warning("binance %s: %s; resyncing the clock and retrying once", endpoint.name, error.message)
                    resynced = True
                    await self.sync_clock(deadline)
                elif not (error.kind in (Kind.RATE_LIMIT, Kind.BANNED) and error.http_status is not None):
                    raise  # a budget denial has no HTTP status: it already waited as long as the deadline allows

    async def sync_clock(self, deadline: float) -> int:
        offset = await self.clock.sync(lambda: self._once(self.api.time, deadline, {}))
        if self.client is not None:
            self.client.timestamp_offset = offset
        self.state.clock_offset_ms = offset
        return offset

    async def _once(self, endpoint: Endpoint, deadline: float, params: dict[str, Any]) -> Any:
        while True:
            await self._admit(endpoint, deadline)
            try:
                return await self._send(endpoint, params)
            except WindowClosed as closed:  # a 429 was read after this request was admitted: nothing was sent
                log.info("binance %s held back: %s", endpoint.name, closed)

    async def _admit(self, endpoint: Endpoint, deadline: float) -> None:
        """Wait out this replica's window, then take the cost from the shared budget (and its pause)."""
        while (pause := self.state.window.current()) is not None:
            left = deadline - time.monotonic()
            if pause.remaining_s > left:
                raise ExchangeFailure(ExchangeError(Kind.RATE_LIMIT, f"{pause.kind} by the exchange: {pause.message}; "
                                                    f"{pause.remaining_s:.1f}s to wait but {max(left, 0):.1f}s left "
                                                    f"before the deadline"))
            await asyncio.sleep(pause.remaining_s)
        denial = await self.budget.acquire(endpoint.weight, endpoint.orders, deadline)
        if denial is not None:
            self.state.note_pause(denial.pause)
            raise ExchangeFailure(ExchangeError(Kind.RATE_LIMIT, denial.message))

    async def _send(self, endpoint: Endpoint, params: dict[str, Any]) -> Any:
        if self.client is None:
            raise ExchangeFailure(ExchangeError(Kind.UNAVAILABLE, "the Binance client is not open"))
        method = self.api.method(self.client, endpoint)
        sent_at_ms = self.clock.now_ms()
        started = time.perf_counter()
        error: ExchangeError | None = None
        with self.client.capture() as info:
            try:
                result = await method(**params)
            except WindowClosed:
                raise
            except Exception as exc:  # mapped once, in errors.from_exception
                if not isinstance(exc, _EXPECTED):
                    log.error("binance %s raised %s", endpoint.name, type(exc).__name__, exc_info=True)
                error = from_exception(exc)
        self.metrics.exchange_latency.labels(endpoint.name, error.kind.value if error else "ok").observe(
            time.perf_counter() - started)
        await self._learn(endpoint, info, error)
        if error is not None:
            raise ExchangeFailure(error, sent_at_ms)
        return result

    async def _learn(self, endpoint: Endpoint, info: CallInfo, error: ExchangeError | None) -> None:
        """Feed what the response said back into the shared budget and this replica's health."""
        try:
            if error is not None and error.http_status in (418, 429):
                await self._pause(error)
            weights = info.counters("x-mbx-used-weight")
            if weights:
                self.state.used_weight_1m = weights.get("1m", self.state.used_weight_1m)
                await self.budget.observe(weights, "weight")
            orders = info.counters("x-mbx-order-count")
            if orders:
                await self.budget.observe(orders, "orders")
        except RedisError as exc:  # the call's outcome matters more than budget bookkeeping
            log.warning("binance %s: could not update the shared rate budget: %s", endpoint.name, exc)
        if endpoint.signed and (error is None or error.kind in _AUTHENTICATED):
            self.state.auth_error = None
        if error is None:
            self.state.note_call(False)
        else:
            if error.kind is Kind.AUTH:
                self.state.auth_error = f"{error.code} {error.message}"
                log.error("binance %s: credentials rejected: %s %s", endpoint.name, error.code, error.message)
            self.state.note_call(error.kind in (Kind.UNKNOWN_OUTCOME, Kind.UNAVAILABLE), error.message)
        self.state.publish(self.metrics)

    async def _pause(self, error: ExchangeError) -> None:
        assert error.http_status is not None
        kind = BAN if error.http_status == 418 else THROTTLE
        seconds = pause_seconds(error.http_status, error.retry_after_s, error.code)
        message = f"HTTP {error.http_status} {error.code}: {error.message}"
        self.state.note_pause(Pause(kind, message, seconds))
        await self.budget.pause(seconds, kind, message)
        log.warning("binance %s: every replica pauses for %.1fs", message, seconds)
