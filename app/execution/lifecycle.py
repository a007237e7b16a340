"""Following open orders to their end: PAPER matching, cancels, expiries and the kill switch.

Every change goes through ``OrderBook.update`` (app/state/orders.py), which writes each one only if
the order is still as read, so every replica may run this: a quote matched by three replicas, an
expiry swept by two, books each fill and each end once. The periodic sweep expires orders whose
``expire_after_s`` passed, cancels what the kill switch says (HALTED: every open order; REDUCING:
those that would grow a position; CANCEL_ON_KILL_SWITCH=false turns this off), matches resting
PAPER orders against polled prices when quotes are not streamed, and refreshes the open-order gauges.
Each change written here gets a span in its order's trace (app/execution/order_spans.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Sequence

import orjson
import redis.asyncio as aioredis

from app.backoff import every
from app.config import Settings
from app.exchange.base import ExchangeAdapter, Quote
from app.exchange.matching import allocate, crosses
from app.exchange.paper import PaperExchange
from app.exchange.quotes import StreamQuotes
from app.execution import order_spans
from app.keys import Keys
from app.models.trading import TradingState
from app.orders.machine import Change, ExecutionType, Fill, Order, OrderStatus, VenueUpdate
from app.state.orders import Decide, OrderBook, Wallet
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing

log = logging.getLogger(__name__)

EXPIRE_AFTER, KILL_SWITCH = "EXPIRE_AFTER", "KILL_SWITCH"
MATCH_TTL_S = 3600  # how far behind the quote stream a replica may read and still book a quote's first match


class OrderLifecycle:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, book: OrderBook,
                 exchange: ExchangeAdapter, metrics: Metrics, *, poll_prices: bool,
                 tracing: Tracing | None = None) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self.book = book
        self._exchange = exchange
        self._metrics = metrics
        self._tracing = tracing or Tracing()
        self._poll_prices = poll_prices
        self._paper = exchange if isinstance(exchange, PaperExchange) else None
        self._kill_seen: tuple[object, ...] | None = None  # what the kill switch last found nothing to cancel in

    @classmethod
    def build(cls, settings: Settings, redis: aioredis.Redis, keys: Keys, scripts: Scripts,
              exchange: ExchangeAdapter, metrics: Metrics, tracing: Tracing | None = None) -> "OrderLifecycle":
        """PAPER books a resting order's later fill into its wallet in the same script call, and
        matches on each streamed quote, or on each sweep against polled prices."""
        wallet = None
        if isinstance(exchange, PaperExchange):
            wallet = Wallet(exchange.script_keys(), exchange.script_args(), exchange.base_asset)
        book = OrderBook(redis, keys, scripts, stream_maxlen=settings.stream_maxlen, ttl_s=settings.idempotency_ttl_s,
                         history=settings.history_limit, wallet=wallet)
        polls = isinstance(exchange, PaperExchange) and settings.paper_price_source != "stream"
        return cls(settings, redis, keys, book, exchange, metrics, poll_prices=polls, tracing=tracing)

    def follow_quotes(self) -> None:
        """Match resting PAPER orders on every quote of the quote stream (PAPER_PRICE_SOURCE=stream)."""
        if self._paper is not None and isinstance(self._paper.prices, StreamQuotes):
            self._paper.prices.subscribe(self._matched)

    async def _matched(self, symbol: str, quote: Quote, quote_id: str) -> None:
        await self.on_quote(symbol, quote, quote_id)

    # -- cancels ------------------------------------------------------------------------------
    async def cancel(self, intent_ids: Sequence[str], reason: str, cause_intent_id: str | None = None,
                     expire: bool = False) -> list[Change]:
        """Withdraw these orders at the venue and record what it says; returns the changes written here."""

        async def decide(order: Order) -> VenueUpdate:
            said = await self._exchange.cancel_order(order)
            if expire and said.status is OrderStatus.CANCELED:
                said = VenueUpdate(ExecutionType.EXPIRED, OrderStatus.EXPIRED, executed_qty=said.executed_qty,
                                   exchange_order_id=said.exchange_order_id)
            return VenueUpdate(said.execution_type, said.status, said.fill, said.executed_qty, reason=reason,
                               cause_intent_id=cause_intent_id, exchange_order_id=said.exchange_order_id)

        return await self.update(intent_ids, decide)

    async def update(self, intent_ids: Sequence[str], decide: Decide) -> list[Change]:
        """``OrderBook.update``, counted in the metrics and traced (each change once: by the replica that
        wrote it)."""
        started_ns = time.time_ns()
        changes = await self.book.update(intent_ids, decide)
        self.observe(changes, started_ns)
        return changes

    # -- PAPER matching -----------------------------------------------------------------------
    async def on_quote(self, symbol: str, quote: Quote, quote_id: str) -> list[Change]:
        """Fill the resting PAPER orders this quote crosses (a listener of the quote stream)."""
        paper = self._paper
        if paper is None:  # another venue matches its own book
            return []
        ids = await self.book.crossing(symbol, quote.bid, quote.ask)
        if not ids:
            return []
        published_ms = _published_ms(quote_id)
        orders = [o for o in await self.book.load(ids) if o is not None and o.created_ms <= published_ms]
        fills = allocate(orders, quote, quote_id, paper.maker_fee_rate, paper.fee_asset(symbol))
        if not fills:
            return []
        fills = await self._first_match(quote_id, fills)

        def decide(order: Order) -> VenueUpdate | None:
            """The fill as allocated, if the order as it stands now still takes it (an amend or
            another fill may have come in between)."""
            fill = fills.get(order.intent_id)
            if fill is None or fill.quantity > order.remaining or fill.price != order.price \
                    or not crosses(order, quote):
                return None
            return VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED, fill=fill)

        return await self.update(list(fills), decide)

    async def _first_match(self, quote_id: str, fills: dict[str, Fill]) -> dict[str, Fill]:
        """The fills of this quote as the first replica to match it allocated them. Every replica
        matches every quote, and a later one sees the book the first one changed (an order it filled
        has left the book, and with it what it took of the quote's size): it books the first one's
        fills, which the trade id dedupes, instead of handing the quote's size out again."""
        key = self._keys.paper_match(quote_id)
        mine = orjson.dumps({i: [str(f.quantity), str(f.price), str(f.fee), f.fee_asset] for i, f in fills.items()})
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, mine, nx=True, ex=MATCH_TTL_S)
        pipe.get(key)
        _, first = await pipe.execute()
        return {i: Fill(quote_id, Decimal(q), Decimal(p), Decimal(fee), asset)
                for i, (q, p, fee, asset) in orjson.loads(first).items()}

    # -- the periodic sweep -------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        await every(stopping, self.sweep, lambda: self._settings.order_sweep_interval_s, "order sweep")

    async def sweep(self) -> None:
        """Each step on its own: one that fails (Redis, a venue call) does not keep the others from
        running, and the kill switch goes first."""
        now_ms = int(time.time() * 1000)
        steps = [self._kill_switch] if self._settings.cancel_on_kill_switch else []
        steps += [lambda: self._expire(now_ms), *([self._match_polled] if self._poll_prices else []),
                  lambda: self._gauges(now_ms)]
        for step in steps:
            try:
                await step()
            except Exception as exc:  # Redis or the venue away: this step runs again next sweep
                log.warning("order sweep step failed: %s: %s", type(exc).__name__, exc)

    async def _expire(self, now_ms: int) -> None:
        due = await self.book.due(now_ms)
        if due:
            await self.cancel(due, EXPIRE_AFTER, expire=True)

    async def _kill_switch(self) -> None:
        """HALTED: cancel every open order; REDUCING: those that could grow a position. The open
        orders are read only when the state or the open set changed since the last look that left
        nothing to cancel, so a REDUCING state with orders it keeps costs two reads a sweep."""
        state = await self._redis.get(self._keys.trading_state)
        if state is None or state.decode() == TradingState.ACTIVE.value:
            self._kill_seen = None
            return
        newest = await self._redis.zrange(self._keys.open_orders, -1, -1, withscores=True)
        seen = (state, await self.book.count_open(), tuple(newest))
        if seen == self._kill_seen:
            return
        orders = await self.book.open_orders()
        if state.decode() == TradingState.REDUCING.value:
            positions = {k.decode(): Decimal(v.decode()) for k, v in
                         (await self._redis.hgetall(self._keys.risk_positions)).items()}
            orders = _growing(orders, positions)
        if orders:
            changes = await self.cancel([o.intent_id for o in orders], KILL_SWITCH)
            if changes:
                log.warning("kill switch (%s): canceled %d open orders", state.decode(), len(changes))
        else:
            self._kill_seen = seen

    async def _match_polled(self) -> None:
        """Static or polled prices: match each symbol with resting orders against its current quote."""
        for symbol in await self.book.resting_symbols(self._settings.allowed_symbols):
            quote = await self._exchange.quote(symbol)
            await self.on_quote(symbol, Quote(quote.bid, quote.ask), f"poll-{symbol}-{time.time_ns()}")

    async def _gauges(self, now_ms: int) -> None:
        self._metrics.open_orders.set(await self.book.count_open())
        oldest = await self.book.oldest_open_ms()
        self._metrics.oldest_open_order_age.set(max(0.0, (now_ms - oldest) / 1000) if oldest else 0.0)

    def observe(self, changes: list[Change], started_ns: int) -> None:
        """Metrics, and a span per change (from ``started_ns``, when its update began) in its order's trace."""
        order_spans.record(self._tracing, changes, started_ns)
        now_ms = time.time() * 1000
        for change in changes:
            after = change.after
            if change.fill is not None:
                self._metrics.order_fills.labels(after.symbol).inc()
            if change.final:
                self._metrics.order_changes.labels(after.status.value, change.update.reason or "").inc()
                if after.status is OrderStatus.FILLED and after.created_ms:
                    self._metrics.time_to_fill.observe(max(0.0, (now_ms - after.created_ms) / 1000))


def _growing(orders: list[Order], positions: dict[str, Decimal]) -> list[Order]:
    """The open orders the REDUCING state cancels. Oldest first, per symbol and side, an order is
    kept only if, filled together with the ones kept before it, it still brings the position nearer
    to flat without crossing it (the gate's test for a new order counts the same side's open
    orders the same way, gate.lua)."""
    kept: dict[tuple[str, str], Decimal] = {}
    growing = []
    for order in sorted(orders, key=lambda o: (o.created_ms, o.intent_id)):
        position = positions.get(order.symbol, Decimal(0))
        before = position + order.sign * kept.get((order.symbol, order.side), Decimal(0))
        after = before + order.sign * order.remaining
        if abs(after) < abs(before) and before * after >= 0:
            kept[(order.symbol, order.side)] = kept.get((order.symbol, order.side), Decimal(0)) + order.remaining
        else:
            growing.append(order)
    return growing


def _published_ms(quote_id: str) -> float:
    """When a streamed quote was published (its entry id's milliseconds): an order placed after it
    never met it. A polled quote is of now."""
    head = quote_id.split("-", 1)[0]
    return float(head) if head.isdigit() else float("inf")
