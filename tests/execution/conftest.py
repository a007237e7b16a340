"""An in-process pipeline against the test Redis: the real processor, consumer, PAPER venue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from app.bus.consumer import StreamConsumer
from app.config import Settings, load_settings
from app.exchange.base import ExchangeAdapter
from app.exchange.paper import PaperExchange
from app.exchange.pricing import build_price_source
from app.execution.lifecycle import OrderLifecycle
from app.execution.service import IntentProcessor
from app.keys import Keys
from app.state.scripts import Scripts
from app.state.store import Store
from app.telemetry.metrics import Metrics


@dataclass
class Harness:
    settings: Settings
    redis: aioredis.Redis
    sync: sync_redis.Redis
    keys: Keys
    scripts: Scripts
    exchange: ExchangeAdapter
    metrics: Metrics
    processor: IntentProcessor
    store: Store

    def consumer(self, name: str = "c1", **overrides: Any) -> StreamConsumer:
        settings = self.settings.model_copy(update={"consumer_name": name, **overrides})
        processor = IntentProcessor(settings, self.redis, self.keys, self.scripts, self.exchange, self.metrics)
        return StreamConsumer(settings, self.redis, self.redis, self.keys, processor.process, self.metrics)

    def lifecycle(self, **overrides: Any) -> OrderLifecycle:
        """A replica's order follower as app/runtime.py builds it (its own script objects)."""
        settings = self.settings.model_copy(update=overrides)
        return OrderLifecycle.build(settings, self.redis, self.keys, Scripts.register(self.redis), self.exchange,
                                    self.metrics)

    def paper_orders(self) -> int:
        return int(self.sync.get(self.keys.paper_order_seq) or 0)


def build(redis_url: str, client: aioredis.Redis, sync: sync_redis.Redis, exchange_wrapper: Any = None,
          **overrides: Any) -> Harness:
    settings = load_settings({}, redis_url=redis_url, consumer_name="c1", **{"claim_min_idle_ms": 100, **overrides})
    keys = Keys.from_settings(settings)
    scripts = Scripts.register(client)
    metrics = Metrics()
    prices = build_price_source(settings, client, metrics)  # the client reads the quote stream when it is the source
    exchange: ExchangeAdapter = PaperExchange(settings, client, keys, scripts, prices, metrics)
    if exchange_wrapper is not None:
        exchange = exchange_wrapper(exchange)
    processor = IntentProcessor(settings, client, keys, scripts, exchange, metrics)
    return Harness(settings, client, sync, keys, scripts, exchange, metrics, processor, Store(client, keys))


@pytest.fixture
async def harness(redis_url: str, aredis: aioredis.Redis, sync: sync_redis.Redis) -> AsyncIterator[Harness]:
    yield build(redis_url, aredis, sync)
