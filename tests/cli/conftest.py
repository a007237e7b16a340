"""Real service processes (`python -m app serve`) against the test Redis."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
import redis

from tests.utils.service import ServiceProcess


@pytest.fixture
def sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def services(redis_url: str) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(name: str = "svc", wait_ready: bool = True, **env: str) -> ServiceProcess:
        service = ServiceProcess(redis_url, name=name, env={k.upper(): str(v) for k, v in env.items()})
        started.append(service)
        return service.start(wait_ready=wait_ready)

    yield start
    for service in started:
        service.kill()
