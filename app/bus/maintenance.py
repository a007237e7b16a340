"""Periodic upkeep of the shared streams and the gauges that describe them.

Runs beside the consumer: samples lag and pending, removes consumers of replicas that are gone
(nothing pending, idle past CONSUMER_IDLE_CLEANUP_S), trims the intent stream of entries every
replica is done with, and refreshes Redis health, trading state and position gauges.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from app.backoff import pause
from app.codec import text
from app.config import Settings
from app.keys import Keys
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    lag: int | None = None
    pending: int | None = None
    length: int | None = None
    consumers: int | None = None
    redis_ok: bool = False
    redis_latency_ms: float | None = None
    redis_error: str | None = None
    sampled_at: float = 0.0



def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Maintenance:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, metrics: Metrics,
                 interval_s: float = 5.0) -> None:
        self._s = settings
        self._redis = redis
        self._keys = keys
        self._metrics = metrics
        self._interval = interval_s
        self.stats = StreamStats()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.tick()
            await pause(stopping, self._interval)

    async def tick(self) -> StreamStats:
        started = time.perf_counter()
        try:
            await self._redis.ping()
            self.stats.redis_latency_ms = round((time.perf_counter() - started) * 1000, 3)
            self.stats.redis_ok, self.stats.redis_error = True, None
            self._metrics.redis_up.set(1)
            await self._sample_group()
            await self._cleanup_consumers()
            await self._trim()
            await self._sample_books()
        except Exception as exc:  # upkeep must never take the service down
            self.stats.redis_ok, self.stats.redis_error = False, type(exc).__name__
            self._metrics.redis_up.set(0)
            log.warning("maintenance skipped: %s", type(exc).__name__)
        self.stats.sampled_at = time.time()
        return self.stats

    async def _sample_group(self) -> None:
        groups = await self._redis.xinfo_groups(self._keys.intent_stream)
        group = next((g for g in groups if text(g["name"]) == self._keys.group), None)
        if group is None:
            return
        self.stats.pending = int(group["pending"])
        self.stats.consumers = int(group["consumers"])
        lag = group.get("lag")
        self.stats.lag = int(lag) if lag is not None else None
        self.stats.length = int(await self._redis.xlen(self._keys.intent_stream))
        self._metrics.consumer_pending.set(self.stats.pending)
        if self.stats.lag is not None:
            self._metrics.consumer_lag.set(self.stats.lag)

    async def _cleanup_consumers(self) -> None:
        idle_ms = self._s.consumer_idle_cleanup_s * 1000
        for consumer in await self._redis.xinfo_consumers(self._keys.intent_stream, self._keys.group):
            name = text(consumer["name"])
            if name != self._s.consumer_name and int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
                await self._redis.xgroup_delconsumer(self._keys.intent_stream, self._keys.group, name)
                log.info("removed consumer %s: idle with nothing pending", name)

    async def _trim(self) -> None:
        """Above ``kept_intents`` entries, drop those older than both the oldest pending one and every
        group's read position: answered ones only, however many that leaves."""
        if self.stats.length is None or self.stats.length <= self._s.kept_intents:
            return
        groups = await self._redis.xinfo_groups(self._keys.intent_stream)
        if not groups:
            return
        bound = min((text(g["last-delivered-id"]) for g in groups), key=_id_tuple)
        summary = await self._redis.xpending(self._keys.intent_stream, self._keys.group)
        if summary and summary.get("min"):
            bound = min(bound, text(summary["min"]), key=_id_tuple)
        await self._redis.xtrim(self._keys.intent_stream, minid=bound, approximate=True)

    async def _sample_books(self) -> None:
        state = await self._redis.get(self._keys.trading_state)
        self._metrics.set_trading_state(text(state) if state else "ACTIVE")
        symbols = [text(s) for s in await self._redis.smembers(self._keys.positions_index)]
        if not symbols:
            return
        pipe = self._redis.pipeline(transaction=False)
        for symbol in symbols:
            pipe.hget(self._keys.position(symbol), "notional_usd")
        for symbol, notional in zip(symbols, await pipe.execute()):
            self._metrics.position_notional.labels(symbol).set(float(notional or 0))
