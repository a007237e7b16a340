"""Choose the venue adapter for EXECUTION_MODE."""

from __future__ import annotations

import redis.asyncio as aioredis

from app.config import Mode, Settings
from app.exchange.base import ExchangeAdapter
from app.exchange.paper import PaperExchange
from app.exchange.pricing import build_price_source
from app.keys import Keys
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics


def build_exchange(settings: Settings, redis: aioredis.Redis, keys: Keys, scripts: Scripts,
                   metrics: Metrics, reader: aioredis.Redis | None = None) -> ExchangeAdapter:
    """``reader``: the client for blocking reads, which PAPER_PRICE_SOURCE=stream needs."""
    if settings.execution_mode is Mode.PAPER:
        return PaperExchange(settings, redis, keys, scripts, build_price_source(settings, reader, metrics), metrics)
    from app.exchange.binance.adapter import BinanceAdapter  # imported only where it is used

    return BinanceAdapter(settings, redis, keys, metrics)
