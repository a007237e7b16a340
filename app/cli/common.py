"""Helpers shared by the client subcommands (send, results)."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.redis_server import answers, embedded_url, env_without_redis


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


