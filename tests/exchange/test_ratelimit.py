"""The shared rate budget against a real Redis: buckets from exchangeInfo, sharing, pauses, headers."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from app.config import Settings
from app.exchange.ratelimit import BAN, THROTTLE, Bucket, RateBudget, buckets_for
from app.keys import Keys

SPOT_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    {"rateLimitType": "SOMETHING_NEW", "interval": "MINUTE", "intervalNum": 1, "limit": 5},
]


def budget(redis: aioredis.Redis, settings: Settings, *buckets: Bucket) -> RateBudget:
    return RateBudget(redis, Keys.from_settings(settings), buckets)


def soon(seconds: float = 0.3) -> float:
    return time.monotonic() + seconds


def test_buckets_come_from_rate_limits_capped_by_settings() -> None:
    found = {b.name: b for b in buckets_for(SPOT_LIMITS, weight_per_minute=1200, orders_per_10s=50)}
    assert set(found) == {"weight:1m", "orders:10s", "orders:1d", "requests:5m"}
    assert (found["weight:1m"].limit, found["weight:1m"].window_s) == (1200, 60.0)
    assert (found["orders:10s"].limit, found["orders:1d"].limit, found["orders:1d"].window_s) == (50, 200000, 86400.0)
    assert found["requests:5m"].cost(weight=20, orders=0) == 1
    assert {b.name: b.limit for b in buckets_for(SPOT_LIMITS, 9000, 500)}["weight:1m"] == 6000


def test_the_burst_holds_the_heaviest_call_and_the_rest_refills() -> None:
    assert (Bucket("weight", 1200, 60.0, "1m").burst, Bucket("weight", 60, 2.0, "2s").burst) == (240, 20)
    assert (Bucket("orders", 50, 10.0, "10s").burst, Bucket("weight", 12, 60.0, "1m").burst) == (10, 12)


def test_settings_alone_give_a_weight_and_an_order_bucket() -> None:
    assert {(b.name, b.limit) for b in buckets_for([], 300, 7)} == {("weight:1m", 300), ("orders:10s", 7)}


async def test_burst_is_granted_then_denied_when_the_deadline_is_too_near(aredis: aioredis.Redis,
                                                                          settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("weight", 100, 60.0, "1m"))   # burst 20, refills 80 per minute
    for _ in range(10):
        assert await b.acquire(weight=2, orders=0, deadline=soon()) is None
    denial = await b.acquire(weight=2, orders=0, deadline=soon())
    assert denial is not None and "request budget exhausted" in denial.message and denial.pause is None


async def test_every_replica_draws_from_the_same_bucket(aredis: aioredis.Redis, settings: Settings) -> None:
    weight = Bucket("weight", 50, 60.0, "1m")                          # burst 20: the heaviest call fits
    one, two = budget(aredis, settings, weight), budget(aredis, settings, weight)
    assert await one.acquire(weight=20, orders=0, deadline=soon()) is None
    assert await two.acquire(weight=1, orders=0, deadline=soon()) is not None


async def test_a_denied_request_takes_nothing_from_any_bucket(aredis: aioredis.Redis, settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("weight", 100, 60.0, "1m"), Bucket("orders", 5, 10.0, "10s"))  # bursts 20, 1
    assert await b.acquire(weight=1, orders=1, deadline=soon()) is None
    assert await b.acquire(weight=1, orders=1, deadline=soon()) is not None   # the order bucket is empty
    for _ in range(19):                                                          # weight still has 19 left
        assert await b.acquire(weight=1, orders=0, deadline=soon()) is None


async def test_a_bucket_refills_and_a_waiting_caller_gets_its_turn(aredis: aioredis.Redis, settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("orders", 12, 1.0, "1s"))     # burst 2, refills 10 per second
    assert await b.acquire(weight=0, orders=2, deadline=soon()) is None
    assert await b.acquire(weight=0, orders=2, deadline=soon(0.05)) is not None
    assert await b.acquire(weight=0, orders=2, deadline=soon(5.0)) is None


async def test_a_pause_stops_everyone_and_says_why(aredis: aioredis.Redis, settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("weight", 1000, 60.0, "1m"))
    await b.pause(2.0, THROTTLE, "HTTP 429 -1003: Too many requests")
    denial = await b.acquire(weight=1, orders=0, deadline=soon())
    assert denial is not None and denial.pause is not None
    assert denial.pause.kind == THROTTLE and "429" in denial.message
    current = await b.current_pause()
    assert current is not None and 0 < current.remaining_s <= 2.0


async def test_a_pause_is_never_shortened_and_a_ban_never_downgraded(aredis: aioredis.Redis,
                                                                     settings: Settings) -> None:
    b = budget(aredis, settings)
    await b.pause(5.0, BAN, "HTTP 418")
    await b.pause(1.0, THROTTLE, "HTTP 429")
    first = await b.current_pause()
    assert first is not None and first.kind == BAN and first.remaining_s > 4.0
    await b.pause(8.0, THROTTLE, "HTTP 429 again")
    longer = await b.current_pause()
    assert longer is not None and longer.kind == BAN and longer.remaining_s > 7.0


async def test_binance_counters_clamp_the_bucket(aredis: aioredis.Redis, settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("weight", 1000, 60.0, "1m"))   # burst 200
    await b.observe({"1m": 999}, "weight")                              # someone else used the IP's minute
    assert await b.acquire(weight=5, orders=0, deadline=soon(0.1)) is not None
    await b.observe({"10s": 999}, "weight")                             # no bucket for that window: ignored


async def test_nothing_is_charged_while_no_bucket_applies(aredis: aioredis.Redis, settings: Settings) -> None:
    b = budget(aredis, settings, Bucket("orders", 1, 10.0, "10s"))
    for _ in range(3):
        assert await b.acquire(weight=5, orders=0, deadline=soon()) is None
