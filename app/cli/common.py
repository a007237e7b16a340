"""Helpers shared by the client subcommands (send, results)."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from app.codec import text
from app.config import Settings


def client(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_dsn, socket_connect_timeout=3, socket_timeout=10)


def result_data(fields: dict[Any, Any]) -> dict[str, Any]:
    raw = fields.get(b"data", fields.get("data"))
    return json.loads(raw) if raw is not None else {}


