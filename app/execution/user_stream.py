"""The venue's user-data stream, held by one replica: every order change Binance pushes, booked at once.

One replica at a time holds the stream (a lease in Redis, app/state/lease.py, with a TTL of a few
seconds renewed about every second): the others wait, and take over within seconds when the holder
dies. The lease is not a fence by itself, so the holder checks it again before booking each
message: a holder that stalled past its TTL books at most the message it was reading, which is
harmless since ``OrderBook.update`` books each fill once whoever reports it.

The holder connects, then runs one round of the polling backstop (``OrderPolling.round``) as a
REST catch-up of what changed while nobody listened, and only then marks the stream live
(``Keys.user_stream_live``, TTL USER_STREAM_SILENCE_S, renewed by every order event): while that
key exists, polling rests on every replica (``polling_wanted``). A drop, an expired listenKey, a
refused keep-alive, silence longer than USER_STREAM_SILENCE_S or the lease lost: the key is
deleted or expires and polling resumes until the stream is back (after a backoff). The listenKey is
kept alive every USER_STREAM_KEEPALIVE_S, and the connection is renewed after
USER_STREAM_RECONNECT_S, before Binance's 24 hours.

A cancel or an expiry is booked END_GRACE_S after it arrives, like polling's (docs/binance.md): it
may be the service's own (a CANCEL intent, an expiry, the kill switch), which books it with its
reason, and a CANCEL intent answers CANCELED only if its own write ended the order. One nobody else
booked by then is the venue's: booked with reason VENUE.

An event names its order by client order id. The intent id is found among the open orders (their
number is capped by MAX_OPEN_ORDERS, and an event for an order no longer open has nothing to book):
a map kept in memory and read again from the books when an event names an id it does not have (a
new order, or spot's replacement), so no extra key has to be written and kept as long as each order.
Binance may push an order's first events before the service has written its record (the order's
answer and the event race): an event whose id is not found is tried once more UNKNOWN_RETRY_S later,
then counted ``unknown_order`` (an order the service did not place, or one already final).

An account change (ACCOUNT_UPDATE) is booked at once by the same holder (app/state/account.py): the
wallet balances, and a funding fee once on the position it was paid on. Positions the event carries
are not written: reconciliation owns any difference between the venue's positions and the books.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Callable

import redis.asyncio as aioredis

from app.backoff import Backoff
from app.config import Settings
from app.exchange.base import AccountChange, PushedChange, StreamClosed, UserStream
from app.execution.lifecycle import OrderLifecycle
from app.execution.polling import VENUE, OrderPolling
from app.keys import Keys
from app.orders.machine import Change, Order, VenueUpdate
from app.state.account import AccountBook, Funding
from app.state.lease import Lease
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
LEASE_TTL_S = 3.0
SLOW_STEP_S = 60.0    # the lease held across connect + catch-up (a request per symbol) and a keep-alive
RECEIVE_S = 1.0       # the longest wait for a message before the lease is renewed
RETRY_S = 1.0         # how often a replica without the lease tries to take it
END_GRACE_S = 3.0     # a cancel or expiry waits this long for the service's own write
UNKNOWN_RETRY_S = 1.0  # an event for an order of ours not (yet) among the open orders is tried again after this
UNKNOWN_WAIT_S = 60.0  # ... for this long: more than an order's deadline, after which its record exists
OUR_PREFIX = "ex-"     # the service's client order ids (app/models/intent.py client_order_id)


class UserStreamRunner:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, lifecycle: OrderLifecycle,
                 polling: OrderPolling, stream: UserStream, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._orders = lifecycle
        self._polling = polling
        self._stream = stream
        self._metrics = metrics
        self._clock = clock
        self._lease = Lease(redis, keys.user_stream_lease, settings.consumer_name)
        self._account = AccountBook(redis, keys)
        self._ids: dict[str, str] = {}  # client order id -> intent id, of open orders
        self._ids_read = float("-inf")
        # (when, change, when it was first found for an order not open yet; None: an end waiting its grace)
        self._deferred: list[tuple[float, PushedChange, float | None]] = []

    async def polling_wanted(self) -> bool:
        """The polling backstop's hook: poll unless the stream is live somewhere."""
        return not await self._redis.exists(self._keys.user_stream_live)

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(stopping, base=0.5, cap=30.0)
        while not stopping.is_set():
            try:
                if not await self._lease.hold(LEASE_TTL_S):
                    await backoff.sleep(RETRY_S)
                    continue
                await self._session(stopping)
                backoff.reset()
                continue
            except StreamClosed as closed:
                self._metrics.user_stream_connects.labels("failed").inc()
                log.warning("user-data stream ended: %s", closed)
            except Exception as exc:  # Redis or the venue away: connect again after a backoff
                self._metrics.user_stream_connects.labels("failed").inc()
                log.warning("user-data stream failed: %s: %s", type(exc).__name__, exc)
            await backoff.sleep(backoff.next_delay())
        await self._lease.leave()

    async def _session(self, stopping: asyncio.Event) -> None:
        """One connection, until it ends, the lease is lost, or it is time to renew it. Before a step
        that may take long (connecting and catching up, a keep-alive waiting for budget) the lease is
        held for as long as that step may take, so it never lapses under a holder that is alive."""
        if not await self._lease.hold(SLOW_STEP_S):
            return
        await self._stream.connect()
        self._metrics.user_stream_connects.labels("ok").inc()
        self._metrics.user_stream_holder.set(1)
        try:
            await self._polling.round()  # what changed while nobody listened
            await self._mark_live()
            connected = kept = self._clock()
            log.info("user-data stream connected and caught up")
            while not stopping.is_set():
                now = self._clock()
                if now - connected >= self._settings.user_stream_reconnect_s:
                    log.info("user-data stream: renewing the connection before Binance's 24 hours")
                    return
                if now - kept >= self._settings.user_stream_keepalive_s:
                    if not await self._lease.hold(SLOW_STEP_S):
                        break
                    await self._stream.keep_alive()
                    kept = now
                if not await self._lease.hold(LEASE_TTL_S):
                    break
                changes = await self._stream.receive(RECEIVE_S)
                accounts = [c for c in changes if isinstance(c, AccountChange)]
                due = self._due([c for c in changes if isinstance(c, PushedChange)])
                if (due or accounts) and await self._lease.hold(LEASE_TTL_S):  # re-checked before booking
                    await self._book(due)
                    await self._book_accounts(accounts)
                if changes:
                    await self._mark_live()
            else:
                return
            log.warning("user-data stream: lease lost to another replica; disconnecting")
        finally:
            self._metrics.user_stream_holder.set(0)
            await asyncio.gather(self._unmark_live(), return_exceptions=True)
            await self._stream.close()

    async def _unmark_live(self) -> None:
        """Polling resumes at once, unless another replica's stream is live meanwhile (then it is its key)."""
        if await self._redis.get(self._keys.user_stream_live) == self._lease.owner.encode():
            await self._redis.delete(self._keys.user_stream_live)

    def _due(self, changes: list[PushedChange]) -> list[tuple[PushedChange, float | None]]:
        """The changes to book now: those just received but the ends, and the deferred ones now due."""
        now = self._clock()
        self._deferred += [(now + END_GRACE_S, c, None) for c in changes if c.ends_order]
        due = [(c, since) for at, c, since in self._deferred if at <= now]
        self._deferred = [item for item in self._deferred if item[0] > now]
        return [(c, None) for c in changes if not c.ends_order] + due

    @staticmethod
    def _ours(pushed: PushedChange) -> bool:
        return pushed.client_order_id.startswith(OUR_PREFIX)

    async def _mark_live(self) -> None:
        await self._redis.set(self._keys.user_stream_live, self._lease.owner,
                              px=int(self._settings.user_stream_silence_s * 1000))

    async def _book(self, changes: list[tuple[PushedChange, float | None]]) -> list[Change]:
        written: list[Change] = []
        for pushed, first_seen in changes:
            intent_id = await self._intent_id(pushed.client_order_id)
            now = self._clock()
            since = now if first_seen is None else first_seen
            if intent_id is None and self._ours(pushed) and now - since < UNKNOWN_WAIT_S:
                # an order of the service whose answer is still on its way (its record is written at
                # settlement, up to an order's deadline later): ask again, later
                self._deferred.append((now + UNKNOWN_RETRY_S, pushed, since))
                continue
            if intent_id is None:
                self._metrics.user_stream_events.labels("unknown_order").inc()
                log.info("user-data stream: no open order has client order id %s; not booked",
                         pushed.client_order_id)
                continue

            def decide(order: Order, pushed: PushedChange = pushed) -> VenueUpdate | None:
                if order.client_order_id != pushed.client_order_id:  # replaced meanwhile (spot)
                    return None
                update = pushed.update_for(order)
                return replace(update, reason=VENUE) if pushed.ends_order and update is not None else update

            booked = await self._orders.update([intent_id], decide)
            self._metrics.user_stream_events.labels("booked" if booked else "unchanged").inc()
            written += booked
        return written

    async def _book_accounts(self, changes: list[AccountChange]) -> None:
        for change in changes:
            await self._account.set_balances(change.balances, change.event_ms)
            for asset, wallet in change.balances:
                self._metrics.balance.labels(asset).set(float(wallet))
            for asset, amount in change.funding:
                booked = await self._account.book_funding(asset, amount, change.funding_symbol, change.event_ms,
                                                          int(time.time() * 1000))
                if booked is Funding.SEEN:
                    continue
                self._metrics.funding_fees.labels(asset, "received" if amount > 0 else "paid").inc(float(abs(amount)))
                if booked is Funding.UNATTRIBUTED:
                    log.info("funding fee %s %s (%s) on no position of the books; counted, not booked",
                             amount, asset, change.funding_symbol or "crossed: no symbol")

    async def _intent_id(self, client_order_id: str) -> str | None:
        """The open order's intent id; the map is read again for an id it lacks, at most once a second
        (an event for an order that is final, or not ours, must not reload every open order each time)."""
        if client_order_id not in self._ids and self._clock() - self._ids_read >= UNKNOWN_RETRY_S:
            self._ids = {o.client_order_id: o.intent_id for o in await self._orders.book.open_orders()}
            self._ids_read = self._clock()
        return self._ids.get(client_order_id)
