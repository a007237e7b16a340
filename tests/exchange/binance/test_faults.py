"""Each failure the fake can inject: exactly one order exists per intent and the report says what happened."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal

import pytest

from app.exchange.base import Health, OutcomeUnknown
from app.exchange.binance.adapter import ExchangeStartError
from app.models.result import Reason, Status
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance

ORDER_PATH = {"usdm": "/fapi/v1/order", "spot": "/api/v3/order"}


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_5xx_after_the_order_was_created_is_resolved_by_look_up(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                      market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    fake.faults.fail_after_create = 1
    report = await adapter.place_order(order("ex-5xx-after"))
    assert report.status is Status.FILLED and report.executed_qty == Decimal("0.01")
    assert "found by look-up" in report.message and "-1007" not in report.message
    assert len(fake.orders_for("ex-5xx-after")) == 1
    assert len(fake.sent("POST", ORDER_PATH[market])) == 1


async def test_a_timeout_after_the_order_was_created_is_resolved_by_look_up(make_adapter: MakeAdapter,
                                                                            fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_request_timeout_s=0.5)
    fake.faults.timeout_after_create = 1
    report = await adapter.place_order(order("ex-timeout"))
    assert report.status is Status.FILLED and "request timeout" in report.message
    assert len(fake.orders_for("ex-timeout")) == 1 and len(fake.sent("POST", "/fapi/v1/order")) == 1


async def test_a_5xx_without_an_order_is_sent_again_only_after_its_recv_window(make_adapter: MakeAdapter,
                                                                              fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_recv_window_ms=1000)
    fake.faults.fail_before_create = 1
    report = await adapter.place_order(order("ex-5xx-before"))
    assert report.status is Status.FILLED
    assert len(fake.orders_for("ex-5xx-before")) == 1
    first, second = fake.sent("POST", "/fapi/v1/order")
    assert (first.status, second.status) == (503, 200)
    assert second.at - first.at > 1.0                               # the first could no longer be accepted
    lookups = [r.code for r in fake.sent("GET", "/fapi/v1/order")]
    assert lookups and set(lookups) == {-2013}


async def test_an_outcome_unknown_until_the_deadline_raises_and_query_order_settles_it(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot", binance_request_timeout_s=0.3, max_intent_age_s=1.0)
    await adapter.quote("BTCUSDT")                                  # as the pipeline does before ordering
    fake.faults.latency_s = 1.2                                     # every answer comes after the client gave up
    with pytest.raises(OutcomeUnknown, match="ex-slow"):
        await adapter.place_order(order("ex-slow"))
    fake.faults.latency_s = 0.0
    for _ in range(50):                                             # the slow POST is still being processed
        if fake.orders_for("ex-slow"):
            break
        await asyncio.sleep(0.1)
    found = await adapter.query_order("BTCUSDT", "ex-slow")
    assert found is not None and found.status is Status.FILLED
    assert len(fake.orders_for("ex-slow")) == 1 and len(fake.sent("POST", "/api/v3/order")) == 1


async def test_latency_within_the_timeout_is_only_slower(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_request_timeout_s=1.0)
    fake.faults.latency_s = 0.2
    assert (await adapter.place_order(order("ex-latency"))).status is Status.FILLED
    assert len(fake.orders_for("ex-latency")) == 1 and len(fake.sent("GET", "/fapi/v1/order")) == 0


async def test_a_429_on_the_order_waits_out_retry_after_then_sends_once(make_adapter: MakeAdapter,
                                                                        fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    await adapter.quote("BTCUSDT")                                  # as the pipeline does before ordering
    fake.throttle(retry_after_s=1.0)
    report = await adapter.place_order(order("ex-429"))
    assert report.status is Status.FILLED
    assert [r.status for r in fake.sent("POST", "/api/v3/order")] == [429, 200]
    assert fake.requests_in_windows() == [] and len(fake.orders_for("ex-429")) == 1


async def test_a_ban_longer_than_the_deadline_rejects_as_rate_limited_and_shows_in_health(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(max_intent_age_s=1.0)
    await adapter.quote("BTCUSDT")
    fake.ban(5.0)
    report = await adapter.place_order(order("ex-banned"))
    assert (report.status, report.reason) == (Status.REJECTED, Reason.RATE_LIMITED)
    assert "ban" in report.message and fake.orders_for("ex-banned") == []
    assert len(fake.requests_in_windows()) == 1                     # only the request that discovered the ban
    health = adapter.health()
    assert health.status is Health.DOWN and "418" in health.message and "ban_until" in health.details
    assert not adapter.ready()


@pytest.mark.parametrize("skew_ms", [8000, -8000])
async def test_clock_skew_resyncs_and_retries_once(make_adapter: MakeAdapter, fake: FakeBinance, skew_ms: int) -> None:
    adapter = await make_adapter()
    fake.faults.clock_skew_ms = skew_ms
    report = await adapter.place_order(order("ex-skew"))
    assert report.status is Status.FILLED
    assert [r.code for r in fake.requests if r.code] == [-1021]    # one refusal, then resynced for good
    assert [r.status for r in fake.sent("POST", "/fapi/v1/order")] == [200]
    assert abs(adapter.health().details["clock_offset_ms"] - skew_ms) < 1000
    assert len(fake.orders_for("ex-skew")) == 1


@pytest.mark.parametrize("market,code", [("spot", -2010), ("usdm", -2019)])
async def test_insufficient_balance_is_rejected_with_the_exchange_code(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                       market: str, code: int) -> None:
    adapter = await make_adapter(binance_market=market)
    fake.exchange.balances[market]["USDT"] = Decimal(10)
    report = await adapter.place_order(order("ex-broke", leverage=1))
    assert (report.status, report.reason, report.exchange_code) == (Status.REJECTED, Reason.INSUFFICIENT_BALANCE, code)
    assert "insufficient" in report.message.lower() and fake.orders_for("ex-broke") == []


@pytest.mark.parametrize("market,code", [("spot", -1013), ("usdm", -4164)])
async def test_a_filter_the_exchange_changed_is_rejected_with_its_code(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                       market: str, code: int) -> None:
    adapter = await make_adapter(binance_market=market)
    spec = fake.exchange.specs["BTCUSDT"]
    fake.exchange.specs["BTCUSDT"] = dataclasses.replace(spec, spot_min_notional="1000", futures_min_notional="1000")
    report = await adapter.place_order(order("ex-filter"))
    assert (report.status, report.reason, report.exchange_code) == (Status.REJECTED, Reason.EXCHANGE_FILTER, code)
    assert fake.orders_for("ex-filter") == []


@pytest.mark.parametrize("market,code", [("spot", -2010), ("usdm", -4116)])
async def test_a_duplicate_of_an_open_order_is_looked_up_not_sent_twice(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                       market: str, code: int) -> None:
    adapter = await make_adapter(binance_market=market)
    resting = order("ex-open", order_type="LIMIT", price=Decimal("60000"))
    first = await adapter.place_order(resting)
    again = await adapter.place_order(resting)
    assert first.status is Status.NEW and again.status is Status.NEW
    assert again.exchange_order_id == first.exchange_order_id
    assert [r.code for r in fake.sent("POST", ORDER_PATH[market])] == [None, code]
    assert len(fake.orders_for("ex-open")) == 1


async def test_rejected_credentials_fail_start_and_take_health_down(make_adapter: MakeAdapter) -> None:
    wrong_secret = await make_adapter(start=False, binance_api_secret="not-the-secret-0000")
    with pytest.raises(ExchangeStartError, match="-1022"):
        await wrong_secret.start()
    wrong_key = await make_adapter(start=False, binance_api_key="not-the-key-0000")
    with pytest.raises(ExchangeStartError, match="-2015"):
        await wrong_key.start()
    for adapter in (wrong_secret, wrong_key):
        assert adapter.health().status is Health.DOWN and not adapter.ready()


async def test_credentials_revoked_after_start_fail_orders_until_a_signed_call_succeeds(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    valid, fake.api_key = fake.api_key, "rotated-key-0000"
    report = await adapter.place_order(order("ex-revoked"))
    assert (report.status, report.reason, report.exchange_code) == (Status.FAILED, Reason.EXCHANGE_AUTH, -2015)
    health = adapter.health()
    assert health.status is Health.DOWN and "credentials rejected" in health.message
    fake.api_key = valid
    assert await adapter.query_order("BTCUSDT", "ex-revoked") is None
    assert adapter.health().status is Health.UP and fake.orders_for("ex-revoked") == []


async def test_query_order_raises_outcome_unknown_when_the_exchange_cannot_answer(make_adapter: MakeAdapter,
                                                                                  fake: FakeBinance) -> None:
    adapter = await make_adapter()
    fake.faults.fail_lookups = 1
    with pytest.raises(OutcomeUnknown, match="could not look up"):
        await adapter.query_order("BTCUSDT", "ex-anything")
    await fake.stop()
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown, match="could not connect"):
        await adapter.query_order("BTCUSDT", "ex-anything")
    assert time.monotonic() - started < 5                           # a refused connection is not waited on
