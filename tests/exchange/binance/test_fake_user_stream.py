"""The fake Binance's USD-M user-data stream (tests/fakes/binance_user_stream.py): what the client tests rely on."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import orjson

from tests.fakes.binance_exchange import USDM
from tests.fakes.binance_server import FakeBinance

HEADERS = {"X-MBX-APIKEY": "fake-api-key-0123456789abcdef"}
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "50000",
         "timeInForce": "GTC", "newClientOrderId": "ex-1"}


async def _events(ws: aiohttp.ClientWebSocketResponse, count: int, kinds: tuple[str, ...] = (
        "ORDER_TRADE_UPDATE", "listenKeyExpired")) -> list[dict]:
    """The next ``count`` events of ``kinds`` (others skipped)."""
    out = []
    while len(out) < count:
        message = await asyncio.wait_for(ws.receive(), 2)
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        event = orjson.loads(message.data)
        if event["e"] in kinds:
            out.append(event)
    return out


async def test_listen_key_lifecycle_and_order_events() -> None:
    async with FakeBinance() as fake, aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            key = (await r.json())["listenKey"]
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            assert (await r.json())["listenKey"] == key  # the active key, extended
        async with http.put(f"{fake.url}/fapi/v1/listenKey", data={"listenKey": key}) as r:
            assert r.status == 200
        async with http.ws_connect(f"{fake.url}/ws/{key}") as ws:
            await asyncio.sleep(0.05)
            order = fake.exchange.place(USDM, ORDER, fake.server_time_ms())
            fake.exchange.fill("ex-1", Decimal("0.004"))
            fake.exchange.cancel_elsewhere("ex-1")
            events = await _events(ws, 3)
        assert [(e["o"]["x"], e["o"]["X"], Decimal(e["o"]["z"])) for e in events] == [
            ("NEW", "NEW", 0), ("TRADE", "PARTIALLY_FILLED", Decimal("0.004")),
            ("CANCELED", "CANCELED", Decimal("0.004"))]
        trade = events[1]["o"]
        assert (trade["c"], trade["i"], Decimal(trade["l"]), Decimal(trade["L"]), trade["N"]) == (
            "ex-1", order.order_id, Decimal("0.004"), 50000, "USDT")
        assert trade["t"] == order.trades[0]["id"] and Decimal(trade["n"]) == order.trades[0]["commission"]
        async with http.delete(f"{fake.url}/fapi/v1/listenKey", data={"listenKey": key}) as r:
            assert r.status == 200
        async with http.put(f"{fake.url}/fapi/v1/listenKey", data={"listenKey": key}) as r:
            assert r.status == 400 and (await r.json())["code"] == -1125


async def test_listen_key_needs_the_api_key() -> None:
    async with FakeBinance() as fake, aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            assert r.status == 401 and (await r.json())["code"] == -2014


async def test_faults_expire_drop_duplicate_reorder_silent() -> None:
    async with FakeBinance() as fake, aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            key = (await r.json())["listenKey"]
        async with http.ws_connect(f"{fake.url}/ws/{key}") as ws:
            await asyncio.sleep(0.05)
            stream = fake.user_stream
            stream.duplicate = True
            fake.exchange.place(USDM, ORDER, fake.server_time_ms())
            assert [e["o"]["x"] for e in await _events(ws, 2)] == ["NEW", "NEW"]
            stream.duplicate = False
            stream.hold()
            fake.exchange.fill("ex-1", Decimal("0.004"))
            fake.exchange.fill("ex-1", Decimal("0.003"))
            stream.release(reverse=True)
            assert [Decimal(e["o"]["z"]) for e in await _events(ws, 2)] == [Decimal("0.007"), Decimal("0.004")]
            stream.silent = True
            fake.exchange.fill("ex-1")
            stream.silent = False
            stream.expire()
            assert [e["e"] for e in await _events(ws, 1)] == ["listenKeyExpired"]
            assert (await asyncio.wait_for(ws.receive(), 2)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with http.get(f"{fake.url}/ws/{key}") as r:
            assert r.status == 400  # an expired key cannot be connected to
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            key = (await r.json())["listenKey"]
        async with http.ws_connect(f"{fake.url}/ws/{key}") as ws:
            await asyncio.sleep(0.05)
            stream.drop()
            assert (await asyncio.wait_for(ws.receive(), 2)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_fills_and_funding_fees_push_account_updates() -> None:
    async with FakeBinance() as fake, aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{fake.url}/fapi/v1/listenKey") as r:
            key = (await r.json())["listenKey"]
        async with http.ws_connect(f"{fake.url}/ws/{key}") as ws:
            await asyncio.sleep(0.05)
            fake.exchange.place(USDM, ORDER, fake.server_time_ms())
            fake.exchange.fill("ex-1", Decimal("0.004"))
            [order] = await _events(ws, 1, ("ACCOUNT_UPDATE",))
            wallet = fake.exchange.balances[USDM]["USDT"]
            fake.user_stream.funding("BTCUSDT", "-0.5")
            fake.user_stream.funding("ETHUSDT", "0.25", isolated=False)
            paid, received = await _events(ws, 2, ("ACCOUNT_UPDATE",))
        assert order["a"]["m"] == "ORDER" and Decimal(order["a"]["B"][0]["wb"]) == wallet
        assert (paid["a"]["m"], Decimal(paid["a"]["B"][0]["bc"]), Decimal(paid["a"]["B"][0]["wb"])) == (
            "FUNDING_FEE", Decimal("-0.5"), wallet - Decimal("0.5"))
        assert [p["s"] for p in paid["a"]["P"]] == ["BTCUSDT"] and received["a"]["P"] == []
        assert fake.exchange.balances[USDM]["USDT"] == wallet - Decimal("0.25")
