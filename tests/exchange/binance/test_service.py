"""The real service (`python -m app serve`, EXECUTION_MODE=TESTNET) against the fake Binance in a thread."""

from __future__ import annotations

from typing import Iterator

import pytest
import redis

from tests.fakes.binance_server import FakeBinance
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, wait_results


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    with FakeBinance().in_thread() as fake:
        yield fake


def test_testnet_intents_fill_once_each_even_when_binance_answers_5xx(redis_url: str, binance: FakeBinance) -> None:
    service = ServiceProcess(redis_url, env={
        "EXECUTION_MODE": "TESTNET", "BINANCE_API_KEY": binance.api_key, "BINANCE_API_SECRET": binance.api_secret,
        "BINANCE_BASE_URL": binance.url, "BINANCE_FUTURES_BASE_URL": binance.url, "BINANCE_REQUEST_TIMEOUT_S": "2",
    }).start()
    try:
        client = redis.Redis.from_url(redis_url)
        binance.faults.fail_after_create = 1
        sent = [intent(quantity=0.002, leverage=3), intent(symbol="ETHUSDT", quantity=0.05)]
        publish(client, *sent)
        found = {r["intent_id"]: r for r in wait_results(client, 2, timeout=30)}
        exchange = next(c for c in service.get("/health").json()["components"] if c["name"] == "exchange")
    finally:
        service.stop()
    for body in sent:
        result = found[body["intent_id"]]
        assert result["status"] == "FILLED" and result["mode"] == "TESTNET"
        assert len(binance.orders_for(result["client_order_id"])) == 1
    assert binance.exchange.leverage["BTCUSDT"] == 3
    assert exchange["status"] == "OK" and exchange["details"]["market"] == "usdm"
    assert binance.api_secret not in service.logs() and binance.api_key not in service.logs()
