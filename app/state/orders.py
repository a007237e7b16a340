"""The Redis side of orders followed to their end: reading live records, writing changes atomically.

The one entry point for "the venue says this order changed" is ``OrderBook.update``: it reads the
orders, asks a decision function for each order's ``VenueUpdate``, runs it through the pure state
machine (app/orders/machine.py) and writes the changes with order_apply.lua, each only if its order
is still at the seq it was read at. A change that lost that race is recomputed from a fresh read,
so however many replicas act on one order (matching one quote, sweeping one expiry), it changes once.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Awaitable, Callable, Iterable

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.codec import text
from app.keys import Keys
from app.orders.events import change_event
from app.orders.machine import AmendRejected, Change, Order, OrderStatus, UpdateRefused, VenueUpdate, apply
from app.orders.record import from_fields, to_fields
from app.state.scripts import Scripts

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
FINAL_COUNTERS = {OrderStatus.FILLED: "orders_filled", OrderStatus.CANCELED: "orders_canceled",
                  OrderStatus.EXPIRED: "orders_expired", OrderStatus.REJECTED: "orders_rejected"}

Decide = Callable[[Order], VenueUpdate | None | Awaitable[VenueUpdate | None]]


@dataclass(frozen=True, slots=True)
class Wallet:
    """The PAPER venue's side of a later fill: its script's KEYS and ARGV and each symbol's base asset."""

    keys: list[str]
    args: list[Any]
    base_asset: Callable[[str], str]


class OrderBook:
    def __init__(self, redis: aioredis.Redis, keys: Keys, scripts: Scripts, *, stream_maxlen: int, ttl_s: int,
                 history: int, wallet: Wallet | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._maxlen = stream_maxlen
        self._ttl = ttl_s
        self._history = history
        self._wallet = wallet

    # -- reading --------------------------------------------------------------------------------
    async def load(self, intent_ids: Iterable[str]) -> list[Order | None]:
        ids = list(intent_ids)
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for intent_id in ids:
            pipe.hgetall(self._keys.live(intent_id))
        return [from_fields(raw) for raw in await pipe.execute()]

    async def get(self, intent_id: str) -> Order | None:
        return from_fields(await self._redis.hgetall(self._keys.live(intent_id)))

    async def open_ids(self) -> list[str]:
        """Open orders, oldest first."""
        return [text(i) for i in await self._redis.zrange(self._keys.open_orders, 0, -1)]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        orders = [o for o in await self.load(await self.open_ids()) if o is not None and not o.status.final]
        return [o for o in orders if symbol is None or o.symbol == symbol]

    async def oldest_open_ms(self) -> int | None:
        oldest = await self._redis.zrange(self._keys.open_orders, 0, 0, withscores=True)
        return int(oldest[0][1]) if oldest else None

    async def count_open(self) -> int:
        return int(await self._redis.zcard(self._keys.open_orders))

    async def resting_symbols(self, symbols: Iterable[str]) -> list[str]:
        """Which of ``symbols`` have resting LIMIT orders: two ZCARDs each, in one round trip."""
        candidates = list(symbols)
        pipe = self._redis.pipeline(transaction=False)
        for symbol in candidates:
            pipe.zcard(self._keys.book(f"{symbol}:BUY"))
            pipe.zcard(self._keys.book(f"{symbol}:SELL"))
        counts = await pipe.execute()
        return [s for n, s in enumerate(candidates) if counts[2 * n] or counts[2 * n + 1]]

    async def crossing(self, symbol: str, bid: Decimal, ask: Decimal) -> list[str]:
        """Resting LIMIT orders a quote crosses: BUYs priced at or above its ask, SELLs at or below its bid."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrangebyscore(self._keys.book(f"{symbol}:BUY"), float(ask), "+inf")
        pipe.zrangebyscore(self._keys.book(f"{symbol}:SELL"), "-inf", float(bid))
        buys, sells = await pipe.execute()
        return [text(i) for i in (*buys, *sells)]

    async def due(self, now_ms: int, limit: int = 200) -> list[str]:
        """Open orders whose ``expire_after_s`` has passed."""
        return [text(i) for i in await self._redis.zrangebyscore(self._keys.expiries, "-inf", now_ms, 0, limit)]

    # -- changing -------------------------------------------------------------------------------
    async def update(self, intent_ids: Iterable[str], decide: Decide) -> list[Change]:
        """Apply ``decide(order)``'s update to each order; returns the changes written by this call.

        ``decide`` sees each order as freshly read (again after losing a race) and returns None for
        no change. An update the state machine refuses is logged and dropped, never booked.
        """
        pending = list(dict.fromkeys(intent_ids))
        written: list[Change] = []
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                return written
            changes = []
            orders = await self.load(pending)
            await self._forget_ended([(i, o) for i, o in zip(pending, orders) if o is None or o.status.final])
            for order in orders:
                if order is None or order.status.final:
                    continue
                change = await self._decided(order, decide)
                if change is not None:
                    changes.append(change)
            outcomes = await self.write(changes)
            written += [c for c, ok in zip(changes, outcomes) if ok]
            pending = [c.after.intent_id for c, ok in zip(changes, outcomes) if not ok]
        if pending:
            log.warning("orders %s changed under every attempt; left for the next update", pending[:5])
        return written

    @staticmethod
    async def _decided(order: Order, decide: Decide) -> Change | None:
        """One order's change; a failure to decide it (its venue call) leaves it for the next round
        without holding back the others."""
        try:
            update = decide(order)
            if inspect.isawaitable(update):
                update = await update
        except AmendRejected:
            raise  # an answer for the AMEND intent that asked, not a failure
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except Exception as exc:
            log.warning("order %s: no change this round: %s: %s", order.intent_id, type(exc).__name__, exc)
            return None
        if update is None:
            return None
        try:
            return apply(order, update)
        except UpdateRefused as exc:
            log.error("order %s: update refused: %s", order.intent_id, exc)
            return None

    async def _forget_ended(self, ended: list[tuple[str, Order | None]]) -> None:
        """Take orders that are final (or gone) out of the open set, expiries and books: normally done
        in the change that ended them, this repairs an index a failed script left behind."""
        if not ended:
            return
        pipe = self._redis.pipeline(transaction=False)
        for intent_id, order in ended:
            pipe.zrem(self._keys.open_orders, intent_id)
            pipe.zrem(self._keys.expiries, intent_id)
            if order is not None:
                pipe.zrem(self._keys.book(f"{order.symbol}:{order.side}"), intent_id)
        await pipe.execute()

    async def write(self, changes: list[Change]) -> list[bool]:
        """Write ``changes`` in one script call; per change, False when its order moved on meanwhile."""
        if not changes:
            return []
        now = time.time()
        wallet = self._wallet
        keys = [*self._script_keys(), *(wallet.keys if wallet else ["", ""])]
        args = [*self._script_args(int(now * 1000)), *(wallet.args if wallet else ["", "", 0, 0]),
                *(orjson.dumps(self._item(c, now)) for c in changes)]
        reply = await self._scripts.order_apply(keys=keys, args=args)
        out = []
        for change, item in zip(changes, reply):
            kind = text(item[0])
            if kind == "ERR":
                log.error("order %s: writing a change failed: %s", change.after.intent_id, text(item[1]))
            out.append(kind == "OK")
        return out

    def _script_keys(self) -> list[str]:
        k = self._keys
        return [k.order_stream, k.reserved, k.risk_positions, k.marks, k.positions_index, k.open_orders, k.expiries,
                k.counters, k.trades]

    def _script_args(self, now_ms: int) -> list[Any]:
        k = self._keys
        return [k.live(""), k.position(""), k.book(""), self._maxlen, self._ttl, self._history, now_ms, k.order("")]

    def _item(self, change: Change, now: float) -> list[Any]:
        before, after, fill = change.before, change.after, change.fill
        sign = after.sign
        filled = fill.quantity if fill else Decimal(0)
        reservation = change.reserved - filled - change.released  # on the order's side
        event = change_event(change, now)
        trade = ""
        if fill is not None:
            trade = orjson.dumps(dict(
                trade_id=fill.trade_id, intent_id=after.intent_id, client_order_id=after.client_order_id,
                exchange_order_id=after.exchange_order_id, symbol=after.symbol, side=after.side,
                quantity=float(fill.quantity), price=float(fill.price), fee=float(fill.fee),
                fee_asset=fill.fee_asset or after.fee_asset, mode=after.mode, time=event["event_time"],
            )).decode()
        moved_price = after.price is not None and after.price != before.price and after.order_type == "LIMIT"
        wallet = self._wallet.base_asset(after.symbol) if self._wallet and fill is not None else ""
        fields = [item for pair in to_fields(after).items() for item in pair]
        return [after.intent_id, before.seq, fields, orjson.dumps(event).decode(), after.symbol,
                after.side, f"{sign * filled:f}", f"{fill.price:f}" if fill else "0", f"{fill.fee:f}" if fill else "0",
                fill.trade_id if fill else "", trade, f"{reservation:f}", int(change.final),
                FINAL_COUNTERS.get(after.status, "") if change.final else "", after.leverage,
                f"{after.price:f}" if moved_price else "", wallet, change.update.cause_intent_id or ""]
