"""The Binance venue for TESTNET and LIVE (USD-M futures or spot), behind the ExchangeAdapter interface.

``start()`` makes one attempt (the runtime retries it): measure the clock, load exchangeInfo
(filters; rate limits that seed the shared budget), check the credentials with a signed call.
A watcher then keeps health current (pauses and bans set by any replica), refreshes exchangeInfo
after its TTL and re-checks rejected credentials. Orders are filtered locally first, leverage is
set once per symbol and value, and sending follows orders.py's at-most-once rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.config import Settings
from app.exchange.base import (ComponentStatus, ExchangeAdapter, ExecutionReport, OrderPoll, OrderRequest,
                               OutcomeUnknown, Quote)
from app.exchange.binance import drift
from app.exchange.binance.changes import OrderChanges
from app.exchange.binance.errors import ExchangeFailure, Kind
from app.exchange.binance.exchange_info import ExchangeInfoCache
from app.exchange.binance.fees import Fees
from app.exchange.binance.health import ExchangeState
from app.exchange.binance.markets import market_api
from app.exchange.binance.orders import OrderSender
from app.exchange.binance.polling import OpenOrderPoll
from app.exchange.binance.transport import Transport
from app.exchange.binance.user_stream import BinanceUserStream
from app.exchange.filters import SymbolRules, check_order
from app.exchange.ratelimit import Bucket, RateBudget, buckets_for
from app.keys import Keys
from app.models.result import Reason, Status
from app.orders.machine import Order, VenueUpdate
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 1.0
AUTH_RECHECK_S = 30.0
LEVERAGE_MEMORY_S = 3600
QUOTE_MAX_AGE_S = 60.0


class ExchangeStartError(RuntimeError):
    """The venue cannot be used yet; the message says why (never with a credential in it)."""


class ExchangeUnavailable(RuntimeError):
    """A call that is not an order (price, filters) failed; the message says why.

    ``reason`` is RATE_LIMITED when the shared budget, a 429 or a 418 was the cause, so a caller
    can publish the same reason an order would get.
    """

    def __init__(self, message: str, reason: Reason = Reason.EXCHANGE_UNAVAILABLE) -> None:
        super().__init__(message)
        self.reason = reason


class BinanceAdapter(ExchangeAdapter):
    name = "binance"

    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, metrics: Metrics) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._metrics = metrics
        self._api = market_api(settings.binance_market)
        self._budget = RateBudget(redis, keys, self._buckets(()))
        self._state = ExchangeState(settings.binance_market.value, settings.execution_mode.value)
        self._transport = Transport(settings, self._api, self._budget, self._state, metrics)
        self._info = ExchangeInfoCache(redis, keys, settings.binance_market, settings.binance_exchange_info_ttl_s)
        self._orders = OrderSender(self._transport, settings.binance_recv_window_ms)
        self._changes = OrderChanges(self._transport)
        self._fees = Fees(self._transport, self._info.get, self._mid)
        self._poll = OpenOrderPoll(self._transport)
        self._stream = BinanceUserStream(settings, self._transport, self._info.get) \
            if settings.user_stream_enabled and self._api.listen_key_create is not None else None
        self._order_window_s = settings.max_intent_age_s or 30.0
        self._quotes: dict[str, tuple[float, Quote]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._auth_checked = 0.0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._transport.open()
        deadline = self._transport.deadline()
        try:
            if await self._info.load_shared():      # budget from exchangeInfo before the first request
                self._configure_budget()
            await self._transport.sync_clock(deadline)
            if not self._info.loaded:
                await self._load_info(deadline)
            await self._transport.call(self._api.account, deadline)
        except ExchangeFailure as failure:
            error = failure.error
            self._state.start_error = f"{error.code} {error.message}" if error.code else error.message
            self._state.publish(self._metrics)
            raise ExchangeStartError(f"binance {self._api.market.value}: {self._state.start_error}") from None
        self._state.start_error = None
        self._state.publish(self._metrics)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="binance-watch")
        log.info("binance %s ready: %d symbols, clock offset %d ms", self._api.market.value,
                 len(self._info.rules), self._transport.clock.offset_ms)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._stream is not None:
            await self._stream.close()
        await self._transport.close()

    def health(self) -> ComponentStatus:
        return self._state.component(self._info.age_s())

    # -- market data ----------------------------------------------------------------------------
    async def rules(self, symbol: str) -> SymbolRules | None:
        if not self._info.loaded:
            raise ExchangeUnavailable("exchangeInfo is not loaded yet: start() has not succeeded")
        return self._info.get(symbol)

    async def quote(self, symbol: str) -> Quote:
        try:
            doc = await self._transport.call(self._api.book_ticker, self._transport.deadline(), symbol=symbol)
        except ExchangeFailure as failure:
            raise ExchangeUnavailable(f"no book ticker for {symbol}: {failure.error.message}",
                                      failure.error.report().reason or Reason.EXCHANGE_UNAVAILABLE) from None
        quote = Quote(bid=Decimal(str(doc["bidPrice"])), ask=Decimal(str(doc["askPrice"])))
        self._quotes[symbol] = (time.monotonic(), quote)
        return quote

    # -- orders ---------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> ExecutionReport:
        deadline = time.monotonic() + self._order_window_s
        refusal = await self._refuse_locally(request)
        if refusal is None and self._api.leverage is not None:
            refusal = await self._ensure_leverage(request, deadline)
        if refusal is not None:
            return refusal
        # no trade read for a fresh answer: weight 5 per USD-M fill would cut the orders a minute's
        # budget allows by five (docs/binance.md, Commissions)
        return await self._fees.settle(await self._orders.send(request, deadline), request.symbol, deadline,
                                       read_trades=False)

    async def query_order(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        deadline = self._transport.deadline()
        try:
            found = await self._orders.query(symbol, client_order_id, deadline)
        except ExchangeFailure as failure:
            raise OutcomeUnknown(f"could not look up {client_order_id} on {symbol}: {failure.error.message}") from None
        return None if found is None else await self._fees.settle(found, symbol, deadline)

    async def cancel_order(self, order: Order) -> VenueUpdate:
        try:
            return await self._changes.cancel(order, time.monotonic() + self._order_window_s)
        except ExchangeFailure as failure:
            raise _unsettled(f"cancel of {order.client_order_id}", failure) from None

    async def amend_order(self, order: Order, price: Decimal | None, quantity: Decimal | None) -> VenueUpdate:
        try:
            return await self._changes.amend(order, price, quantity, time.monotonic() + self._order_window_s)
        except ExchangeFailure as failure:
            raise _unsettled(f"amend of {order.client_order_id}", failure) from None

    async def poll_orders(self, orders: Sequence[Order]) -> OrderPoll | None:
        if not orders:
            return OrderPoll(weight_limit_1m=self._state.weight_limit_1m)
        try:
            poll = await self._poll.poll(orders, self._transport.deadline())
        except ExchangeFailure as failure:
            raise ExchangeUnavailable(f"open orders: {failure.error.message}",
                                      failure.error.report().reason or Reason.EXCHANGE_UNAVAILABLE) from None
        poll.weight_limit_1m = self._state.weight_limit_1m
        return poll

    async def account(self) -> drift.Account:
        """For reconciliation: every open order (``openOrders`` without a symbol: USD-M weight 40,
        spot 80) and on USD-M the positions (``positionRisk``, weight 5), through the shared budget."""
        deadline = self._transport.deadline()
        try:
            orders = drift.open_orders(await self._transport.call(self._api.open_orders_all, deadline))
            risk = self._api.position_risk
            positions = None if risk is None else drift.positions(await self._transport.call(risk, deadline))
        except ExchangeFailure as failure:
            raise ExchangeUnavailable(f"account: {failure.error.message}",
                                      failure.error.report().reason or Reason.EXCHANGE_UNAVAILABLE) from None
        return drift.Account(orders, positions)

    def user_stream(self) -> BinanceUserStream | None:
        return self._stream

    async def _refuse_locally(self, request: OrderRequest) -> ExecutionReport | None:
        """The filters Binance would apply (-1013/-4164), checked before any request is spent."""
        rules = self._info.get(request.symbol)
        if rules is None:
            return ExecutionReport.rejected(Reason.EXCHANGE_REJECTED, f"{request.symbol} is not listed on Binance "
                                            f"{self._api.market.value}", -1121)
        reference = request.price or Decimal(0)
        if request.order_type != "LIMIT":
            try:
                quote = await self._recent_quote(request.symbol)
            except ExchangeUnavailable as exc:
                status = Status.REJECTED if exc.reason is Reason.RATE_LIMITED else Status.FAILED
                return ExecutionReport.rejected(exc.reason, str(exc), status=status)
            reference = quote.for_side(request.side)
        violation = check_order(rules, request.quantity, request.order_type, request.price, reference,
                                reduce_only=request.reduce_only)
        if violation is None:
            return None
        return ExecutionReport.rejected(Reason.EXCHANGE_FILTER, f"Filter failure: {violation.filter}: "
                                                                f"{violation.message} (refused before sending)")

    async def _recent_quote(self, symbol: str) -> Quote:
        seen = self._quotes.get(symbol)
        return seen[1] if seen and time.monotonic() - seen[0] < QUOTE_MAX_AGE_S else await self.quote(symbol)

    async def _mid(self, symbol: str) -> Decimal | None:
        """A recent mid price of ``symbol``, to value a commission paid in another asset; None if unavailable."""
        try:
            return (await self._recent_quote(symbol)).mid
        except ExchangeUnavailable as exc:
            log.warning("no price for %s to value a commission: %s", symbol, exc)
            return None

    async def _ensure_leverage(self, request: OrderRequest, deadline: float) -> ExecutionReport | None:
        """USD-M leverage is per symbol and account: set it once per value, shared by all replicas."""
        key = self._keys.binance_leverage(request.symbol)
        if await self._redis.get(key) == str(request.leverage).encode():
            return None
        assert self._api.leverage is not None
        try:
            await self._transport.call(self._api.leverage, deadline, symbol=request.symbol,
                                       leverage=request.leverage)
        except ExchangeFailure as failure:
            report = failure.error.report()
            report.message = f"setting leverage {request.leverage} failed: {report.message}"
            return report
        await self._redis.set(key, str(request.leverage), ex=LEVERAGE_MEMORY_S)
        return None

    # -- background -----------------------------------------------------------------------------
    async def _load_info(self, deadline: float) -> None:
        fetched = await self._info.load(lambda: self._transport.call(self._api.exchange_info, deadline))
        self._configure_budget()
        if fetched:
            log.info("binance %s exchangeInfo fetched: %d symbols", self._api.market.value, len(self._info.rules))

    def _configure_budget(self) -> None:
        self._budget.configure(self._buckets(self._info.rate_limits))
        weight = self._budget.bucket("weight:1m")
        self._state.weight_limit_1m = weight.limit if weight else None

    def _buckets(self, rate_limits: Iterable[Mapping[str, Any]]) -> tuple[Bucket, ...]:
        return buckets_for(rate_limits, self._settings.binance_rate_limit_rpm, self._settings.binance_orders_per_10s)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                self._state.note_pause(await self._budget.current_pause())
                if self._info.stale():
                    await self._load_info(self._transport.deadline())
                if self._state.auth_error and time.monotonic() - self._auth_checked > AUTH_RECHECK_S:
                    self._auth_checked = time.monotonic()
                    await self._transport.call(self._api.account, self._transport.deadline())
            except ExchangeFailure as failure:
                log.warning("binance background check failed: %s", failure.error.message)
            except RedisError as exc:
                log.warning("binance background check could not reach Redis: %s", exc)
            self._state.publish(self._metrics)


def _unsettled(what: str, failure: ExchangeFailure) -> Exception:
    """A cancel or amend that may have happened is OutcomeUnknown; one that did not, ExchangeUnavailable."""
    error = failure.error
    if error.kind is Kind.UNKNOWN_OUTCOME:
        return OutcomeUnknown(f"{what}: {error.message}; ask again")
    return ExchangeUnavailable(f"{what}: {error.message}", error.report().reason or Reason.EXCHANGE_UNAVAILABLE)
