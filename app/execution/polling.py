"""The polling backstop: Binance's word on every open order, every ORDER_POLL_INTERVAL_S.

A fill or a cancel made elsewhere (Binance's web page, another client, the exchange expiring an
order) reaches the books within a few intervals. One replica polls at a time (a lease in Redis,
taken over within seconds when its holder dies): the rate budget is shared, and a second poller
would only book the same changes, which ``OrderBook.update`` writes once anyway.

Each round reads the open orders, asks the venue (``ExchangeAdapter.poll_orders``: for Binance
app/exchange/binance/polling.py) and books what it says through the one entry point, each change
only if the order is still as it was read (else it waits for the next round, read afresh). An
order the venue does not know (-2013) on ORDER_LOST_AFTER_LOOKUPS polls in a row is ended EXPIRED
with reason LOST: its reservation is released, the error logged and ``execution_orders_lost_total``
counted (alert ExecutionOrderLost), never silently dropped.

The rounds are stretched so that polling takes at most ORDER_POLL_MAX_WEIGHT_SHARE of the minute's
request weight. ``wanted`` is the hook for the user-data stream (app/execution/user_stream.py):
polling then runs only while the stream is down, catching up or silent; ``round`` is also the
stream's catch-up after each (re)connect.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import replace
from typing import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from app.backoff import every
from app.config import Settings
from app.exchange.base import ExchangeAdapter, OrderPoll
from app.execution.lifecycle import OrderLifecycle
from app.keys import Keys
from app.orders.machine import Change, ExecutionType, Order, OrderStatus, VenueUpdate
from app.state.lease import Lease
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
LOST, VENUE = "LOST", "VENUE"
MISSES_TTL_S = 86400
LEASE_MARGIN_S = 2.0


class OrderPolling:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, lifecycle: OrderLifecycle,
                 exchange: ExchangeAdapter, metrics: Metrics) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._orders = lifecycle
        self._exchange = exchange
        self._metrics = metrics
        self._lease = Lease(redis, keys.order_poll_lease, settings.consumer_name)
        self._delay = settings.order_poll_interval_s
        self.wanted: Callable[[], bool | Awaitable[bool]] = lambda: True

    async def run(self, stopping: asyncio.Event) -> None:
        await every(stopping, self.tick, lambda: self._delay, "order poll",
                    self._metrics.order_polls.labels("failed").inc)
        self._metrics.order_poller.set(0)
        await self._lease.leave()

    async def tick(self) -> list[Change]:
        """One round, if this replica holds the lease; the changes it wrote."""
        self._delay = self._settings.order_poll_interval_s
        wanted = self.wanted()
        if not (await wanted if inspect.isawaitable(wanted) else wanted):
            self._metrics.order_poller.set(0)
            return []
        held = await self._lease.hold(self._delay + LEASE_MARGIN_S)
        self._metrics.order_poller.set(1 if held else 0)
        if not held:
            return []
        changes = await self.round()
        await self._lease.hold(self._delay + LEASE_MARGIN_S)  # from the end of a round, however long it took
        return changes

    async def round(self) -> list[Change]:
        """One round whoever holds the lease (the user-data stream's catch-up: a round twice is harmless)."""
        orders = await self._orders.book.open_orders()
        poll = await self._exchange.poll_orders(orders)
        if poll is None:
            return []
        self._metrics.order_polls.labels("ok").inc()
        self._delay = self._stretched(poll)
        return await self._book(orders, poll)

    async def _book(self, orders: Sequence[Order], poll: OrderPoll) -> list[Change]:
        seqs = {o.intent_id: o.seq for o in orders}
        lost = await self._count_misses(poll)
        updates = {i: replace(u, reason=VENUE if u.status.final and u.fill is None else None)
                   for i, u in poll.updates.items()}
        updates.update({i: VenueUpdate(ExecutionType.EXPIRED, OrderStatus.EXPIRED, reason=LOST) for i in lost})

        def decide(order: Order) -> VenueUpdate | None:
            if order.seq != seqs.get(order.intent_id):  # changed since it was polled: the next round sees it
                return None
            return updates.get(order.intent_id)

        changes = await self._orders.update(list(updates), decide)
        for change in changes:
            if change.update.reason == LOST:
                self._metrics.orders_lost.inc()
                after = change.after
                log.error("order %s (%s %s, client order id %s) is not known to the venue after %d look-ups: "
                          "marked EXPIRED LOST, %s left unfilled; check the account", after.intent_id, after.symbol,
                          after.side, after.client_order_id, self._settings.order_lost_after_lookups,
                          after.remaining.normalize())
        if lost:
            await self._redis.hdel(self._keys.order_poll_misses, *lost)
        return changes

    async def _count_misses(self, poll: OrderPoll) -> list[str]:
        """Count one more miss for each order the venue did not know, forget those it knew; the ids
        at ORDER_LOST_AFTER_LOOKUPS misses."""
        key = self._keys.order_poll_misses
        if not poll.unknown and not poll.known:
            return []
        pipe = self._redis.pipeline(transaction=False)
        if poll.known:
            pipe.hdel(key, *poll.known)
        for intent_id in poll.unknown:
            pipe.hincrby(key, intent_id, 1)
        pipe.expire(key, MISSES_TTL_S)
        counts = (await pipe.execute())[1 if poll.known else 0:][:len(poll.unknown)]
        limit = self._settings.order_lost_after_lookups
        for intent_id, count in zip(poll.unknown, counts):
            log.warning("order %s: Binance does not know it (look-up %d of %d)", intent_id, count, limit)
        return [i for i, n in zip(poll.unknown, counts) if int(n) >= limit]

    def _stretched(self, poll: OrderPoll) -> float:
        """The next round's delay: the interval, or longer when this round's weight, repeated at the
        interval, would take more than the allowed share of the minute's weight."""
        interval = self._settings.order_poll_interval_s
        if not poll.weight or not poll.weight_limit_1m:
            return interval
        allowed = self._settings.order_poll_max_weight_share * poll.weight_limit_1m
        return max(interval, poll.weight * 60.0 / allowed)
