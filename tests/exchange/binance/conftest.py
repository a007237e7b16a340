"""Fixtures: a fake Binance on loopback, settings pointing at it, and adapters ("replicas") on one Redis."""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.exchange.binance.adapter import BinanceAdapter
from app.keys import Keys
from app.telemetry.metrics import Metrics
from tests.fakes.binance_server import FakeBinance

MakeSettings = Callable[..., Settings]
MakeAdapter = Callable[..., Awaitable[BinanceAdapter]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with FakeBinance() as server:
        yield server


@pytest.fixture
def make_settings(redis_url: str, fake: FakeBinance) -> MakeSettings:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            redis_url=redis_url, execution_mode="TESTNET", binance_market="usdm",
            binance_api_key=fake.api_key, binance_api_secret=fake.api_secret,
            binance_base_url=fake.url, binance_futures_base_url=fake.url,
            binance_request_timeout_s=1.0, max_intent_age_s=5.0, consumer_name="test",
        )
        values.update(overrides)
        return load_settings({}, **values)
    return build


@pytest.fixture
async def make_adapter(aredis: aioredis.Redis, make_settings: MakeSettings) -> AsyncIterator[MakeAdapter]:
    """Build and start adapters that share the test Redis; all are closed at the end."""
    made: list[BinanceAdapter] = []

    async def build(start: bool = True, metrics: Metrics | None = None, **overrides: Any) -> BinanceAdapter:
        settings = make_settings(**overrides)
        adapter = BinanceAdapter(settings, aredis, Keys.from_settings(settings), metrics or Metrics())
        made.append(adapter)
        if start:
            await adapter.start()
        return adapter

    yield build
    for adapter in made:
        await adapter.close()

