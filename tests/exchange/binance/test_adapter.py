"""The adapter against the fake Binance: start-up, filters, quotes, orders on both markets, look-ups."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.exchange.base import Health
from app.exchange.binance.adapter import ExchangeStartError, ExchangeUnavailable
from app.models.result import Reason, Status
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance

PATHS = {"usdm": "/fapi/v1", "spot": "/api/v3"}


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_start_loads_filters_and_checks_credentials(make_adapter: MakeAdapter, fake: FakeBinance,
                                                          market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    rules = await adapter.rules("BTCUSDT")
    assert rules is not None
    assert rules.step_size == (Decimal("0.001") if market == "usdm" else Decimal("0.00001"))
    assert rules.min_notional == (Decimal("100") if market == "usdm" else Decimal("5"))
    assert await adapter.rules("NOPEUSDT") is None
    account = "/fapi/v2/account" if market == "usdm" else "/api/v3/account"
    assert [r.status for r in fake.sent("GET", account)] == [200]
    health = adapter.health()
    assert health.status is Health.UP and health.details["market"] == market
    assert adapter.ready()


async def test_an_adapter_that_has_not_started_is_down_and_has_no_rules(make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(start=False)
    assert adapter.health().status is Health.DOWN and not adapter.ready()
    with pytest.raises(ExchangeUnavailable):
        await adapter.rules("BTCUSDT")


async def test_an_unreachable_exchange_fails_start_with_a_reason(make_adapter: MakeAdapter,
                                                                 fake: FakeBinance) -> None:
    await fake.stop()
    adapter = await make_adapter(start=False)
    with pytest.raises(ExchangeStartError, match="could not connect"):
        await adapter.start()
    assert "could not connect" in adapter.health().message


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_quote_is_the_book_ticker(make_adapter: MakeAdapter, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    quote = await adapter.quote("ETHUSDT")
    assert quote.bid == Decimal("3499.99") and quote.ask == Decimal("3500.01")
    with pytest.raises(ExchangeUnavailable, match="Invalid symbol") as unknown:
        await adapter.quote("NOPEUSDT")
    assert unknown.value.reason is Reason.EXCHANGE_REJECTED


async def test_a_quote_refused_by_a_ban_says_rate_limited(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    fake.ban(3.0)
    with pytest.raises(ExchangeUnavailable, match="ban") as banned:
        await adapter.quote("BTCUSDT")
    assert banned.value.reason is Reason.RATE_LIMITED
    report = await adapter.place_order(order("ex-no-price"))          # no price known: refused, not sent
    assert (report.status, report.reason) == (Status.REJECTED, Reason.RATE_LIMITED)
    assert fake.sent("POST", "/fapi/v1/order") == []


async def test_a_futures_market_order_fills_with_leverage_and_the_documented_parameters(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    report = await adapter.place_order(order("ex-fut-1", leverage=3, reduce_only=True))
    assert report.status is Status.FILLED and report.reason is None
    assert report.executed_qty == Decimal("0.01") and report.avg_price == Decimal("65000.1")
    assert report.quote_qty == Decimal("650.001") and report.exchange_order_id is not None
    [sent] = fake.sent("POST", "/fapi/v1/order")
    assert sent.params["newClientOrderId"] == "ex-fut-1" and sent.params["newOrderRespType"] == "RESULT"
    assert sent.params["recvWindow"] == "5000" and sent.params["reduceOnly"] == "true"
    assert sent.params["quantity"] == "0.01" and fake.exchange.leverage["BTCUSDT"] == 3


async def test_a_spot_market_order_reports_fills_and_commission(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    report = await adapter.place_order(order("ex-spot-1", side="SELL", quantity="0.02"))
    assert report.status is Status.FILLED
    assert report.avg_price == Decimal("64999.99") and report.executed_qty == Decimal("0.02")
    assert report.fee == Decimal("1.2999998") and report.fee_asset == "USDT"
    [sent] = fake.sent("POST", "/api/v3/order")
    assert sent.params["newOrderRespType"] == "FULL" and "reduceOnly" not in sent.params
    assert fake.sent("POST", "/fapi/v1/leverage") == []


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_limit_orders_rest_or_expire_as_binance_decides(make_adapter: MakeAdapter, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    resting = await adapter.place_order(order("ex-limit-gtc", quantity="0.01", order_type="LIMIT",
                                              price=Decimal("60000")))
    assert (resting.status, resting.reason, resting.executed_qty) == (Status.NEW, Reason.ORDER_OPEN, 0)
    expired = await adapter.place_order(order("ex-limit-ioc", quantity="0.01", order_type="LIMIT",
                                              price=Decimal("60000"), time_in_force="IOC"))
    assert (expired.status, expired.reason, expired.raw_status) == (Status.REJECTED, Reason.ORDER_CANCELED, "EXPIRED")
    crossing = await adapter.place_order(order("ex-limit-cross", quantity="0.01", order_type="LIMIT",
                                               price=Decimal("66000")))
    assert crossing.status is Status.FILLED and crossing.avg_price < Decimal("66000")


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_query_order_finds_an_order_by_client_id_or_says_none(make_adapter: MakeAdapter, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    placed = await adapter.place_order(order("ex-query-1"))
    found = await adapter.query_order("BTCUSDT", "ex-query-1")
    assert found is not None and found.status is Status.FILLED
    assert (found.executed_qty, found.avg_price, found.exchange_order_id) == \
           (placed.executed_qty, placed.avg_price, placed.exchange_order_id)
    assert await adapter.query_order("BTCUSDT", "ex-never-sent") is None


async def test_orders_breaking_filters_are_refused_before_any_request(make_adapter: MakeAdapter,
                                                                      fake: FakeBinance) -> None:
    adapter = await make_adapter()
    too_small = await adapter.place_order(order("ex-small", quantity="0.0005"))
    below_notional = await adapter.place_order(order("ex-notional", quantity="0.001"))
    off_tick = await adapter.place_order(order("ex-tick", order_type="LIMIT", price=Decimal("60000.05")))
    unlisted = await adapter.place_order(order("ex-unlisted", symbol="NOPEUSDT"))
    for report, words in ((too_small, "LOT_SIZE"), (below_notional, "MIN_NOTIONAL"), (off_tick, "PRICE_FILTER")):
        assert (report.status, report.reason) == (Status.REJECTED, Reason.EXCHANGE_FILTER)
        assert words in report.message
    assert (unlisted.status, unlisted.reason, unlisted.exchange_code) == \
           (Status.REJECTED, Reason.EXCHANGE_REJECTED, -1121)
    assert fake.sent("POST", "/fapi/v1/order") == []


async def test_leverage_is_set_once_per_symbol_and_value_for_all_replicas(make_adapter: MakeAdapter,
                                                                         fake: FakeBinance) -> None:
    one, two = await make_adapter(), await make_adapter()
    for n, adapter in enumerate((one, two, one, two)):
        assert (await adapter.place_order(order(f"ex-lev5-{n}", leverage=5))).status is Status.FILLED
    assert [r.params["leverage"] for r in fake.sent("POST", "/fapi/v1/leverage")] == ["5"]
    assert (await two.place_order(order("ex-lev7", leverage=7))).status is Status.FILLED
    assert [r.params["leverage"] for r in fake.sent("POST", "/fapi/v1/leverage")] == ["5", "7"]
    assert fake.exchange.leverage["BTCUSDT"] == 7


async def test_an_invalid_leverage_rejects_the_order_without_sending_it(make_adapter: MakeAdapter,
                                                                        fake: FakeBinance) -> None:
    adapter = await make_adapter()
    report = await adapter.place_order(order("ex-lev-bad", leverage=200))
    assert (report.status, report.reason, report.exchange_code) == (Status.REJECTED, Reason.EXCHANGE_REJECTED, -4028)
    assert "setting leverage 200 failed" in report.message
    assert fake.sent("POST", "/fapi/v1/order") == []


async def test_exchange_info_is_fetched_once_and_shared_through_redis(make_adapter: MakeAdapter,
                                                                     fake: FakeBinance) -> None:
    first = await make_adapter()
    second = await make_adapter()
    assert len(fake.sent("GET", "/fapi/v1/exchangeInfo")) == 1
    assert await second.rules("ETHUSDT") == await first.rules("ETHUSDT")
    await make_adapter(binance_market="spot")                      # another market never reuses the copy
    assert len(fake.sent("GET", "/api/v3/exchangeInfo")) == 1


async def test_rate_limits_from_exchange_info_seed_the_budget(make_adapter: MakeAdapter) -> None:
    generous = await make_adapter(binance_rate_limit_rpm=100_000)
    assert generous.health().details["weight_limit_1m"] == 2400          # the exchange's limit wins over settings
    modest = await make_adapter(binance_rate_limit_rpm=600)
    assert modest.health().details["weight_limit_1m"] == 600
