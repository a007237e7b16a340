"""Shared fixtures: a real redis-server on a free loopback port (never the machine's 6379)."""

from __future__ import annotations

from typing import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.redis_server import LocalRedis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    server = LocalRedis().start()
    yield server
    server.cleanup()


@pytest.fixture
def redis_url(redis_server: LocalRedis) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return load_settings({}, redis_url=redis_url, consumer_name="test-consumer")
