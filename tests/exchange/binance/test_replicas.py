"""Three adapters ("replicas") sharing one Redis share one rate budget and one pause."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from app.exchange.base import Health, OutcomeUnknown
from app.exchange.binance.adapter import BinanceAdapter, ExchangeUnavailable
from app.keys import Keys
from app.models.result import Reason, Status
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance

ONE_SECOND_WEIGHT = ({"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 1, "limit": 60},
                     {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 1000})


async def replicas(make_adapter: MakeAdapter, n: int = 3, **overrides: object) -> list[BinanceAdapter]:
    return [await make_adapter(**overrides) for _ in range(n)]


async def test_no_replica_sends_during_a_retry_after_window(make_adapter: MakeAdapter, fake: FakeBinance,
                                                            aredis, make_settings) -> None:
    a, b, c = await replicas(make_adapter, binance_market="spot")
    for r in (a, b, c):
        await r.quote("BTCUSDT")
    fake.throttle(retry_after_s=1.5)
    first = asyncio.create_task(a.place_order(order("ex-r-a0")))
    pause_key = Keys.from_settings(make_settings()).exchange_pause
    while not await aredis.exists(pause_key):                      # a got its 429 and told everyone
        await asyncio.sleep(0.01)
    rest = [r.place_order(order(f"ex-r-{name}{i}")) for name, r in (("a", a), ("b", b), ("c", c)) for i in (1, 2)]
    reports = [await first, *await asyncio.gather(*rest)]
    assert all(r.status is Status.FILLED for r in reports)
    assert [r.status for r in fake.requests if r.status in (418, 429)] == [429]
    assert fake.requests_in_windows() == []
    assert all(len(fake.orders_for(coid)) == 1 for coid in
               ["ex-r-a0"] + [f"ex-r-{name}{i}" for name in "abc" for i in (1, 2)])


async def test_a_ban_one_replica_meets_stops_every_replica(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    a, b, c = await replicas(make_adapter, max_intent_age_s=1.0)
    for r in (a, b, c):
        await r.quote("BTCUSDT")
    fake.ban(5.0)
    reports = [await a.place_order(order("ex-ban-a"))]
    reports += await asyncio.gather(b.place_order(order("ex-ban-b")), c.place_order(order("ex-ban-c")))
    assert all((r.status, r.reason) == (Status.REJECTED, Reason.RATE_LIMITED) for r in reports)
    assert len(fake.requests_in_windows()) == 1                     # only a's first request, which found the ban
    for r in (a, b, c):
        health = r.health()
        assert health.status is Health.DOWN and "ban_until" in health.details


@pytest.fixture
async def tight() -> AsyncIterator[FakeBinance]:
    """A fake whose spot weight limit is 60 per second: a minute's behaviour, compressed."""
    async with FakeBinance(spot_rate_limits=ONE_SECOND_WEIGHT) as server:
        yield server


async def test_weight_per_window_stays_within_the_budget_under_load(make_adapter: MakeAdapter,
                                                                    tight: FakeBinance) -> None:
    group = await replicas(make_adapter, binance_market="spot", binance_base_url=tight.url,
                           binance_request_timeout_s=2.5)
    await asyncio.sleep(1.02 - tight.server_time_ms() % 1000 / 1000)   # start-up calls stay in earlier windows
    first_window = len(tight.used_weight("spot")["1S"])

    async def hammer(adapter: BinanceAdapter, worker: int) -> None:
        for i in range(3):
            try:
                if i % 2:
                    await adapter.quote("ETHUSDT")                  # weight 2
                else:
                    await adapter.query_order("ETHUSDT", f"ex-load-{worker}-{i}")   # weight 4
            except (ExchangeUnavailable, OutcomeUnknown):           # no budget in time: the caller is told
                pass

    await asyncio.gather(*(hammer(r, n * 10 + k) for n, r in enumerate(group) for k in range(3)))
    windows = tight.used_weight("spot")["1S"][first_window:]
    assert max(windows) <= 60
    assert sum(windows) > 60                                        # more than one window's worth was wanted
    assert [r.status for r in tight.requests if r.status in (418, 429)] == []


async def test_an_order_without_budget_before_its_deadline_is_rejected_rate_limited(make_adapter: MakeAdapter,
                                                                                    fake: FakeBinance) -> None:
    group = await replicas(make_adapter, binance_market="spot", binance_orders_per_10s=5, max_intent_age_s=1.0)
    for r in group:
        await r.quote("BTCUSDT")
    coids = [f"ex-budget-{n}-{i}" for n in range(3) for i in range(4)]
    reports = await asyncio.gather(*(group[int(c.split("-")[2])].place_order(order(c)) for c in coids))
    filled = [r for r in reports if r.status is Status.FILLED]
    limited = [r for r in reports if (r.status, r.reason) == (Status.REJECTED, Reason.RATE_LIMITED)]
    assert len(filled) + len(limited) == len(coids) and limited
    assert 1 <= len(filled) <= 5                                    # the orders-per-10s budget, for all replicas
    assert all("request budget exhausted" in r.message for r in limited)
    assert len(fake.sent("POST", "/api/v3/order")) == len(filled)
