"""Start-up reconciliation of in-flight intents with what the (fake) exchange reports."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from app.execution.reconcile import reconcile_in_flight
from app.keys import Keys
from app.models.result import Status
from tests.exchange.binance.conftest import MakeAdapter, MakeSettings
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance


async def record(redis: aioredis.Redis, keys: Keys, intent_id: str, **fields: str) -> None:
    await redis.sadd(keys.inflight, intent_id)
    if fields:
        await redis.hset(keys.order(intent_id), mapping=fields)


async def test_each_in_flight_order_is_reported_as_the_exchange_sees_it(
        make_adapter: MakeAdapter, make_settings: MakeSettings, aredis: aioredis.Redis, fake: FakeBinance,
        caplog: pytest.LogCaptureFixture) -> None:
    adapter = await make_adapter()
    keys = Keys.from_settings(make_settings())
    assert (await adapter.place_order(order("ex-sent-and-filled"))).status is Status.FILLED
    await record(aredis, keys, "i-1", client_order_id="ex-sent-and-filled", symbol="BTCUSDT", state="OPEN")
    await record(aredis, keys, "i-2", client_order_id="ex-never-arrived", symbol="BTCUSDT", state="OPEN")
    await record(aredis, keys, "i-3")
    caplog.set_level(logging.INFO, logger="app.execution.reconcile")

    found = await reconcile_in_flight(aredis, keys, adapter)

    assert [e.intent_id for e in found] == ["i-1", "i-2", "i-3"]
    filled, missing, broken = found
    assert filled.found and filled.exchange is not None and filled.exchange.status is Status.FILLED
    assert (filled.client_order_id, filled.local_state) == ("ex-sent-and-filled", "OPEN")
    assert not missing.found and missing.error is None
    assert broken.error is not None and "no client_order_id" in broken.error
    assert "is FILLED at the exchange" in caplog.text and "does not exist at the exchange" in caplog.text
    assert await aredis.xlen(keys.result_stream) == 0                 # publishing is the pipeline's job
    assert await aredis.scard(keys.inflight) == 3                     # and so is clearing the set


async def test_an_exchange_that_cannot_answer_is_reported_not_raised(
        make_adapter: MakeAdapter, make_settings: MakeSettings, aredis: aioredis.Redis, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    keys = Keys.from_settings(make_settings())
    await record(aredis, keys, "i-9", client_order_id="ex-unknown", symbol="BTCUSDT", state="OPEN")
    fake.faults.fail_lookups = 1
    [entry] = await reconcile_in_flight(aredis, keys, adapter)
    assert not entry.found and entry.error is not None and "could not look up ex-unknown" in entry.error


async def test_nothing_in_flight_means_nothing_to_ask(make_adapter: MakeAdapter, make_settings: MakeSettings,
                                                      aredis: aioredis.Redis, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    before = len(fake.requests)
    assert await reconcile_in_flight(aredis, Keys.from_settings(make_settings()), adapter) == []
    assert len(fake.requests) == before
