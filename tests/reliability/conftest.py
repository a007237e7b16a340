"""Fixtures of the reliability runs: distinctive secrets, a restartable Redis with a password, and the
fake Binance (unthrottled, so only injected faults ever throttle) served to service processes."""

from __future__ import annotations

from typing import Iterator

import pytest
import redis

from app.redis_server import LocalRedis
from tests.reliability.leaks import Secrets
from tests.utils.chaos import UNTHROTTLED_LIMITS, FlakyBinance, durable_redis_server


@pytest.fixture(scope="session")
def secrets() -> Secrets:
    return Secrets()


@pytest.fixture
def durable_redis(secrets: Secrets) -> Iterator[LocalRedis]:
    server = durable_redis_server(secrets.redis_password).start()
    yield server
    server.cleanup()


@pytest.fixture
def client(durable_redis: LocalRedis) -> Iterator[redis.Redis]:
    conn = durable_redis.client()
    yield conn
    conn.close()


@pytest.fixture
def binance(secrets: Secrets) -> Iterator[FlakyBinance]:
    with FlakyBinance(secrets.api_key, secrets.api_secret, futures_rate_limits=UNTHROTTLED_LIMITS,
                      seed=5).in_thread() as fake:
        yield fake


def service_env(fake: FlakyBinance, secrets: Secrets, **overrides: str) -> dict[str, str]:
    """TESTNET against the fake, risk limits out of the way (alternating sides keep positions small)."""
    env = {
        "EXECUTION_MODE": "TESTNET", "BINANCE_MARKET": "usdm", "BINANCE_BASE_URL": fake.url,
        "BINANCE_FUTURES_BASE_URL": fake.url, "BINANCE_RATE_LIMIT_RPM": "100000", "BINANCE_ORDERS_PER_10S": "10000",
        "MAX_ORDERS_PER_MINUTE": "0", "MAX_POSITION_USD": "1000000000", "MAX_TOTAL_EXPOSURE_USD": "1000000000",
        **secrets.service_env(),
    }
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return env
