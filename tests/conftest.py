"""Shared fixtures: a real redis-server on a free loopback port (never the machine's 6379)."""

from __future__ import annotations

from typing import AsyncIterator, Callable, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.redis_server import LocalRedis
from tests.utils.service import ServiceProcess


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


@pytest.fixture
def sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def services(redis_url: str) -> Iterator[Callable[..., ServiceProcess]]:
    """Start real service processes (`python -m app serve`) on the test Redis; killed at the end."""
    started: list[ServiceProcess] = []

    def start(name: str = "svc", wait_ready: bool = True, **env: str) -> ServiceProcess:
        service = ServiceProcess(redis_url, name=name, env={k.upper(): str(v) for k, v in env.items()})
        started.append(service)
        return service.start(wait_ready=wait_ready)

    yield start
    for service in started:
        service.kill()
