"""Helpers shared by the client subcommands (send, results, quote, cancel, orders)."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.keys import Keys
from app.redis_server import answers, embedded_url, env_without_redis
from app.state.orders import OrderBook
from app.state.scripts import Scripts


def cli_settings(embedded: str = embedded_url()) -> Settings:
    """Settings for the client commands. With no Redis named (neither REDIS_URL nor REDIS_HOST), the
    embedded Redis of a running ``make run`` when it answers, so its second terminal needs no export."""
    if env_without_redis() and answers(embedded):
        return load_settings(redis_url=embedded)
    return load_settings()


def client(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_dsn, socket_connect_timeout=3, socket_timeout=10)


def result_data(fields: dict[Any, Any]) -> dict[str, Any]:
    raw = fields.get(b"data", fields.get("data"))
    return json.loads(raw) if raw is not None else {}


def order_book(settings: Settings, redis: aioredis.Redis) -> OrderBook:
    """The open orders' live records, read the way the service reads them (it alone writes them)."""
    return OrderBook(redis, Keys.from_settings(settings), Scripts.register(redis), stream_maxlen=settings.stream_maxlen,
                     ttl_s=settings.idempotency_ttl_s, history=settings.history_limit)
