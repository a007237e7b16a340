"""One Binance rate budget for every replica, kept in Redis.

Binance limits request weight per IP and orders per account; replicas behind one egress IP that
each assume the whole limit get banned together (freqtrade#12441). So every call first takes its
cost from token buckets in Redis, atomically (Lua, Redis clock), for all buckets at once.

A bucket of ``limit`` per ``window`` holds at most ``burst`` (20% of the limit, at least the
heaviest call) and refills at ``(limit - burst) / window``: whatever the timing, no window of that
length ever spends more than ``limit``, so Binance's fixed windows are never exceeded either, at
80% sustained throughput. (A limit below 20 weight per window cannot keep that promise exactly.)

Binance's own counters win: each response's ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*``
clamps the matching bucket to what is left of the exchange's current window (other programs on
the IP count too). A 429 or 418 sets one pause key with the Retry-After as TTL; while it exists
no replica sends anything.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, replace
from typing import Any, Iterable, Literal, Mapping

import redis.asyncio as aioredis

from app.keys import Keys
from app.state.scripts import source

Unit = Literal["weight", "orders", "requests"]
BURST_FRACTION = 0.2
MAX_CALL_WEIGHT = 20  # spot exchangeInfo and account, the heaviest calls the adapter makes
_INTERVALS = {"SECOND": (1, "s"), "MINUTE": (60, "m"), "HOUR": (3600, "h"), "DAY": (86400, "d")}
_UNITS: Mapping[str, Unit] = {"REQUEST_WEIGHT": "weight", "ORDERS": "orders", "RAW_REQUESTS": "requests"}
BAN, THROTTLE = "ban", "throttle"


@dataclass(frozen=True, slots=True)
class Bucket:
    unit: Unit
    limit: int
    window_s: float
    suffix: str

    @property
    def name(self) -> str:
        return f"{self.unit}:{self.suffix}"

    @property
    def burst(self) -> int:
        """Room for the heaviest single call, so no call ever needs more than a full bucket."""
        floor = MAX_CALL_WEIGHT if self.unit == "weight" else 1
        return min(self.limit, max(floor, int(self.limit * BURST_FRACTION)))

    def cost(self, weight: int, orders: int) -> int:
        return {"weight": weight, "orders": orders, "requests": 1}[self.unit]

    def args(self, last: int) -> list[Any]:
        return [self.limit, int(self.window_s * 1000), self.burst, last]


@dataclass(frozen=True, slots=True)
class Pause:
    kind: str
    message: str
    remaining_s: float


@dataclass(frozen=True, slots=True)
class Denial:
    """Why no budget could be had before the deadline."""

    message: str
    pause: Pause | None = None


def buckets_for(rate_limits: Iterable[Mapping[str, Any]], weight_per_minute: int,
                orders_per_10s: int) -> tuple[Bucket, ...]:
    """Buckets from exchangeInfo ``rateLimits``, the minute weight and 10 s orders capped by settings."""
    found: dict[str, Bucket] = {}
    for item in rate_limits:
        unit = _UNITS.get(str(item.get("rateLimitType")))
        interval = _INTERVALS.get(str(item.get("interval")))
        num, limit = int(item.get("intervalNum", 1)), int(item.get("limit", 0))
        if unit is None or interval is None or num < 1 or limit < 1:
            continue
        bucket = Bucket(unit, limit, float(interval[0] * num), f"{num}{interval[1]}")
        found[bucket.name] = bucket
    for capped in (Bucket("weight", weight_per_minute, 60.0, "1m"), Bucket("orders", orders_per_10s, 10.0, "10s")):
        known = found.get(capped.name)
        found[capped.name] = replace(capped, limit=min(known.limit, capped.limit)) if known else capped
    return tuple(found.values())


class RateBudget:
    def __init__(self, redis: aioredis.Redis, keys: Keys, buckets: Iterable[Bucket]) -> None:
        self._redis = redis
        self._keys = keys
        self.buckets = tuple(buckets)
        self._take = redis.register_script(source("rate_refill.lua", "rate_take.lua", with_library=False))
        self._observe = redis.register_script(source("rate_refill.lua", "rate_observe.lua", with_library=False))
        self._pause = redis.register_script(source("rate_pause.lua", with_library=False))

    def configure(self, buckets: Iterable[Bucket]) -> None:
        self.buckets = tuple(buckets)

    def bucket(self, name: str) -> Bucket | None:
        return next((b for b in self.buckets if b.name == name), None)

    async def acquire(self, weight: int, orders: int, deadline: float) -> Denial | None:
        """Wait for budget; None once taken, a Denial when it cannot come before ``deadline`` (monotonic)."""
        charged = [b for b in self.buckets if b.cost(weight, orders) > 0]
        keys = [self._keys.exchange_pause] + [self._keys.rate_bucket(b.name) for b in charged]
        args = [a for b in charged for a in b.args(b.cost(weight, orders))]
        while True:
            answer = await self._take(keys=keys, args=args)
            if int(answer[0]) == 0:
                return None
            wait_s = int(answer[1]) / 1000
            pause = _pause_of(answer[2], wait_s) if int(answer[0]) == 2 else None
            left = deadline - time.monotonic()
            if wait_s > left:
                why = f"{pause.kind} by the exchange: {pause.message}" if pause else "request budget exhausted"
                return Denial(f"{why}; {wait_s:.1f}s to wait but {max(left, 0):.1f}s left before the deadline",
                              pause)
            await asyncio.sleep(wait_s + random.uniform(0, 0.02))

    async def observe(self, used: Mapping[str, int], unit: Unit) -> None:
        """Clamp buckets of ``unit`` to Binance's counters, keyed by interval suffix ("1m", "10s")."""
        matched = [(b, used[b.suffix]) for b in self.buckets if b.unit == unit and b.suffix in used]
        if matched:
            await self._observe(keys=[self._keys.rate_bucket(b.name) for b, _ in matched],
                                args=[a for b, n in matched for a in b.args(n)])

    async def pause(self, seconds: float, kind: str, message: str) -> None:
        """Stop every replica for ``seconds`` (a longer pause or a ban already set is kept)."""
        await self._pause(keys=[self._keys.exchange_pause], args=[f"{kind}|{message}", max(1, int(seconds * 1000))])

    async def current_pause(self) -> Pause | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._keys.exchange_pause)
            pipe.pttl(self._keys.exchange_pause)
            value, ttl = await pipe.execute()
        return _pause_of(value, ttl / 1000) if value is not None and ttl > 0 else None


def _pause_of(value: bytes | str | None, remaining_s: float) -> Pause:
    text = value.decode() if isinstance(value, bytes) else (value or "")
    kind, _, message = text.partition("|")
    return Pause(kind or THROTTLE, message, remaining_s)
