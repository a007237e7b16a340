"""Reconciliation: the books compared with Binance's account, at start-up and every RECONCILE_INTERVAL_S.

Binance is the source of truth. One replica at a time (a lease in Redis, like polling's) reads the
books (open orders, positions, the symbols where an order of the service is open or in flight), then
Binance's account (``ExchangeAdapter.account``: every open order, and on USD-M the positions),
through the shared rate budget, and compares them (app/exchange/binance/drift.py). What it does:

- a position that differs beyond RECONCILE_TOLERANCE_QTY is booked as an ``external`` trade of the
  difference, so positions follow the exchange (app/state/external.py);
- orders the service did not place are logged with who placed them (another client, a liquidation
  ``autoclose-``, ADL, settlement); their fills reach the positions through the point above;
- either is drift: ``execution_reconciliation_drift{kind}``, a warning, the ``reconciliation``
  component of /health DEGRADED on every replica for DRIFT_HOLD_ROUNDS intervals (the status lives in
  Redis), the alert ExecutionReconciliationDrift, and RECONCILE_ON_DRIFT: ``reduce`` sets the trading
  state REDUCING, ``halt`` HALTED (never loosened by reconciliation: a person sets ACTIVE again).

A symbol with an order of the service open or in flight, before or after Binance was read, is not
adjusted that round: its fill may be at Binance and not booked yet. Orders open in the books only
are counted (``missing_order``) but left to the polling backstop, which books their end or marks
them LOST.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import redis.asyncio as aioredis

from app.backoff import every
from app.codec import text
from app.config import OnDrift, Settings
from app.exchange.base import ExchangeAdapter
from app.exchange.binance.drift import Account, Books, Drift, compare
from app.keys import Keys
from app.models.trading import TradingState
from app.state.external import ExternalBook
from app.state.lease import Lease
from app.state.orders import OrderBook
from app.state.store import Store
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
LEASE_MARGIN_S = 5.0
DRIFT_HOLD_ROUNDS = 5     # /health stays DEGRADED this many intervals after the last drift
STATUS_TTL_ROUNDS = 10
ACTIONS = {OnDrift.REDUCE: TradingState.REDUCING, OnDrift.HALT: TradingState.HALTED}
STRICTER = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class Reconciliation:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, book: OrderBook, exchange: ExchangeAdapter,
                 store: Store, metrics: Metrics) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._book = book
        self._exchange = exchange
        self._store = store
        self._metrics = metrics
        self._external = ExternalBook(redis, keys, settings.history_limit, settings.execution_mode.value)
        self._lease = Lease(redis, keys.reconcile_lease, settings.consumer_name)

    async def run(self, stopping: asyncio.Event) -> None:
        await every(stopping, self.tick, lambda: self._settings.reconcile_interval_s, "reconciliation",
                    self._metrics.reconciliations.labels("failed").inc)
        await self._lease.leave()

    async def tick(self) -> Drift | None:
        """One round if this replica holds the lease: the drift found (None: not this replica's turn)."""
        if not await self._lease.hold(self._settings.reconcile_interval_s + LEASE_MARGIN_S):
            for kind in self._metrics.reconciliation_drift_kinds:
                self._metrics.reconciliation_drift.labels(kind).set(0)
            return None
        orders = await self._book.open_orders()
        booked = await self._external.positions()
        busy = await self._external.busy()
        account = await self._exchange.account()
        if account is None:
            return None
        busy |= await self._external.busy() | {o.symbol for o in orders}
        books = Books({o.client_order_id: o.symbol for o in orders},
                      {s: Decimal(q) for s, q in booked.items()}, None, busy)
        drift = compare(books, account, Decimal(str(self._settings.reconcile_tolerance_qty)))
        self._metrics.reconciliations.labels("ok").inc()
        for kind, count in drift.counts().items():
            self._metrics.reconciliation_drift.labels(kind).set(count)
        await self._follow(drift, booked, account)
        await self._record(drift)
        if drift.found:
            await self._act(drift)
        elif drift.missing_orders or drift.unsettled:
            log.info("reconciliation: %s; unsettled %s", drift.summary(), ", ".join(drift.unsettled) or "none")
        return drift

    async def _follow(self, drift: Drift, booked: dict[str, str], account: Account) -> None:
        """Move each drifted position to Binance's quantity with an external trade."""
        for p in drift.positions:
            sources = [o.client_order_id for o in account.open_orders if o.symbol == p.symbol]
            if await self._external.adjust(p.symbol, booked.get(p.symbol), p.difference, p.price, sources):
                self._metrics.external_adjustments.inc()
                log.warning("reconciliation: %s booked %s, Binance holds %s: external trade of %s at %s booked",
                            p.symbol, p.booked.normalize(), p.venue.normalize(), p.difference.normalize(),
                            p.price.normalize())
            else:
                log.info("reconciliation: %s moved while being compared; next round", p.symbol)

    async def _record(self, drift: Drift) -> None:
        now_ms = int(time.time() * 1000)
        fields: dict[str, str | int] = {"checked_ms": now_ms}
        if drift.found:
            fields.update(drift=drift.summary()[:2000], drift_ms=now_ms)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self._keys.reconcile_status, mapping=fields)
        pipe.expire(self._keys.reconcile_status, int(self._settings.reconcile_interval_s * STATUS_TTL_ROUNDS))
        await pipe.execute()

    async def _act(self, drift: Drift) -> None:
        action = self._settings.reconcile_on_drift
        log.warning("reconciliation drift (RECONCILE_ON_DRIFT=%s): %s", action.value, drift.summary())
        target = ACTIONS.get(action)
        if target is None:
            return
        current = await self._store.trading_state()
        if STRICTER[current] >= STRICTER[target]:
            return
        await self._store.set_trading_state(target)
        self._metrics.set_trading_state(target.value)
        log.error("reconciliation drift: trading state %s -> %s (RECONCILE_ON_DRIFT=%s)", current.value,
                  target.value, action.value)


async def status(redis: aioredis.Redis, keys: Keys, settings: Settings) -> tuple[bool, str]:
    """(ok, message) for /health's ``reconciliation`` component, the same on every replica."""
    raw = {text(k): text(v) for k, v in (await redis.hgetall(keys.reconcile_status)).items()}
    if not raw:
        return True, "no reconciliation round yet"
    now_ms = int(time.time() * 1000)
    checked_s = (now_ms - int(raw["checked_ms"])) / 1000 if raw.get("checked_ms") else None
    drift_ms = int(raw.get("drift_ms", 0))
    if drift_ms and now_ms - drift_ms < settings.reconcile_interval_s * DRIFT_HOLD_ROUNDS * 1000:
        return False, f"drift {(now_ms - drift_ms) / 1000:.0f}s ago: {raw.get('drift', '')}"
    return True, "no drift" + (f" (last round {checked_s:.0f}s ago)" if checked_s is not None else "")
