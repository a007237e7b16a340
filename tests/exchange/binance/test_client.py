"""The AsyncClient subclass: URLs per mode and override, and each concurrent call's own headers."""

from __future__ import annotations

import asyncio

import pytest

from app.config import Settings
from app.exchange.binance.client import BinanceHttp, base_urls
from app.exchange.window import PauseWindow
from tests.exchange.binance.conftest import MakeSettings
from tests.fakes.binance_server import FakeBinance


def test_testnet_and_live_use_binances_endpoints(make_settings: MakeSettings) -> None:
    testnet = make_settings(binance_base_url=None, binance_futures_base_url=None)
    live = make_settings(execution_mode="LIVE", live_trading_confirmed=True, binance_base_url=None,
                         binance_futures_base_url=None)
    assert base_urls(testnet) == ("https://testnet.binance.vision/api", "https://testnet.binancefuture.com/fapi")
    assert base_urls(live) == ("https://api.binance.com/api", "https://fapi.binance.com/fapi")


@pytest.mark.parametrize("spot,futures", [
    ("http://proxy:8080", "http://proxy:8081/"),
    ("http://proxy:8080/api", "http://proxy:8081/fapi"),
])
def test_overrides_are_base_endpoints_with_or_without_the_api_path(make_settings: MakeSettings, spot: str,
                                                                   futures: str) -> None:
    settings = make_settings(binance_base_url=spot, binance_futures_base_url=futures)
    assert base_urls(settings) == ("http://proxy:8080/api", "http://proxy:8081/fapi")


async def test_each_concurrent_call_sees_its_own_response_headers(make_settings: MakeSettings,
                                                                  fake: FakeBinance) -> None:
    client = BinanceHttp(make_settings(binance_market="spot"), PauseWindow())

    async def one() -> int:
        with client.capture() as info:
            await client.get_orderbook_ticker(symbol="BTCUSDT")
        assert info.status == 200
        return info.counters("x-mbx-used-weight")["1m"]

    try:
        used = await asyncio.gather(*(one() for _ in range(20)))
    finally:
        await client.close_connection()
    assert sorted(used) == list(range(2, 42, 2))                     # every call got its own count


async def test_the_client_sends_the_configured_recv_window_and_never_shows_the_secret(
        make_settings: MakeSettings, fake: FakeBinance) -> None:
    settings: Settings = make_settings(binance_recv_window_ms=3000)
    client = BinanceHttp(settings, PauseWindow())
    try:
        await client.futures_account()
    finally:
        await client.close_connection()
    assert fake.requests[-1].params["recvWindow"] == "3000"
    assert fake.api_secret not in repr(client) and fake.api_key not in repr(client)
