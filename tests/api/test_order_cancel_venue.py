"""DELETE /orders/{intent_id} when the venue does not answer: 503, the order stays open, a retry cancels it.
The real service in TESTNET mode against the fake Binance in a thread."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest
import redis

from tests.fakes.binance_server import FakeBinance
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results

TOKEN = "venue-cancel-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    with FakeBinance().in_thread() as fake:
        yield fake


def test_a_cancel_the_venue_does_not_confirm_is_503_and_can_be_retried(redis_url: str, binance: FakeBinance) -> None:
    service = ServiceProcess(redis_url, env={
        "EXECUTION_MODE": "TESTNET", "BINANCE_API_KEY": binance.api_key, "BINANCE_API_SECRET": binance.api_secret,
        "BINANCE_BASE_URL": binance.url, "BINANCE_FUTURES_BASE_URL": binance.url, "BINANCE_REQUEST_TIMEOUT_S": "1",
        "ADMIN_TOKEN": TOKEN,
    }).start()
    client = redis.Redis.from_url(redis_url)
    try:
        body = intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=50000)
        publish(client, body)
        assert wait_results(client, 1, timeout=30)[0]["status"] == "NEW"
        url = f"{service.url}/orders/{body['intent_id']}"
        binance.faults.latency_s = 3.0
        refused = httpx.delete(url, headers=AUTH, timeout=60)
        assert refused.status_code == 503 and refused.json()["error"] == "CANCEL_NOT_CONFIRMED", refused.text
        assert service.get(f"/orders/{body['intent_id']}").json()["order"]["status"] == "NEW"
        binance.faults.latency_s = 0.0
        retried = httpx.delete(url, headers=AUTH, timeout=30)
        assert retried.status_code == 200 and retried.json()["status"] == "CANCELED", retried.text
        assert float(client.hget("exec:risk:reserved", "BTCUSDT") or 0) == 0
    finally:
        client.close()
        service.stop()
    assert binance.api_secret not in service.logs() and TOKEN not in service.logs()
