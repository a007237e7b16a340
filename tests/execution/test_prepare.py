"""prepare(): pricing, sizing, rounding and the stateless checks of one intent, with the PAPER venue."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.config import Market, Settings, load_settings
from app.exchange.base import OrderRequest, Quote
from app.exchange.paper import PaperExchange
from app.exchange.pricing import StaticPrices
from app.execution.prepare import Prepared, prepare
from app.keys import Keys
from app.models.intent import Intent, decode_fields
from app.models.result import Reason
from app.risk.checks import limits_from_settings
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics

NOW = 1_767_225_600.0
# BTC mid 100,000 with a 2 bp spread: bid 99,990, ask 100,010
MIDS = {"BTCUSDT": "100000", "SOLUSDT": "180"}


def intent(**fields: Any) -> Intent:
    body = {"intent_id": "p-1", "symbol": "BTCUSDT", "side": "BUY", **fields}
    if not {"quantity", "notional_usd", "position_size_usd"} & set(body):
        body["quantity"] = 0.01
    parsed = decode_fields("1-0", {"data": json.dumps(body)}, 65536)
    assert isinstance(parsed, Intent), parsed
    return parsed


class Env:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.settings = settings
        prices = StaticPrices({s: D(p) for s, p in MIDS.items()}, D("2"))
        self.venue = PaperExchange(settings, redis, Keys.from_settings(settings), Scripts.register(redis), prices,
                                   Metrics())

    async def __call__(self, parsed: Intent, quotes: dict[str, Quote] | None = None, now: float = NOW) -> Prepared:
        return await prepare(parsed, self.venue, limits_from_settings(self.settings), self.settings.binance_market,
                             {} if quotes is None else quotes, now)


def env_for(aredis: aioredis.Redis, redis_url: str, **overrides: Any) -> Env:
    base: dict[str, Any] = dict(redis_url=redis_url, consumer_name="t", max_leverage=10, max_intent_age_s=30,
                                max_order_notional_usd=1_000_000,
                                allowed_symbols="BTCUSDT,ETHUSDT,SOLUSDT,PEPEUSDT")
    return Env(aredis, load_settings({}, **{**base, **overrides}))


@pytest.fixture
def env(aredis: aioredis.Redis, redis_url: str) -> Env:
    return env_for(aredis, redis_url)


def denied(prepared: Prepared, reason: Reason, message: str | None = None) -> None:
    assert prepared.request is None
    assert prepared.denial is not None and prepared.denial.reason is reason, prepared.denial
    if message is not None:
        assert prepared.denial.message == message


async def test_a_quantity_intent_becomes_an_order(env: Env) -> None:
    prepared = await env(intent(quantity=0.0159, leverage=5, reduce_only=False))
    assert prepared.denial is None
    assert prepared.request == OrderRequest(symbol="BTCUSDT", side="BUY", quantity=D("0.015"), order_type="MARKET",
                                            client_order_id=intent().client_order_id, leverage=5, price=None,
                                            time_in_force="GTC", reduce_only=False)
    assert (prepared.price, prepared.quantity) == (100_010.0, 0.015)


async def test_notional_buy_is_sized_at_the_ask_and_rounded_down(env: Env) -> None:
    # 1,000 / 100,010 = 0.0099990... -> step 0.001: 0.009
    prepared = await env(intent(notional_usd=1000))
    assert prepared.request is not None and prepared.request.quantity == D("0.009")
    assert (prepared.price, prepared.quantity) == (100_010.0, 0.009)


async def test_notional_sell_is_sized_at_the_bid(env: Env) -> None:
    # 2,000 / 99,990 = 0.020002... -> 0.02
    prepared = await env(intent(side="SELL", position_size_usd=2000))
    assert prepared.request is not None and prepared.request.quantity == D("0.02")
    assert prepared.price == 99_990.0


async def test_notional_limit_is_sized_at_the_limit_price(env: Env) -> None:
    # 1,000 / 50,000 = 0.02 ; the LIMIT price travels with the order
    prepared = await env(intent(notional_usd=1000, order_type="LIMIT", price=50_000, time_in_force="IOC"))
    assert prepared.request is not None
    assert (prepared.request.quantity, prepared.request.price, prepared.request.time_in_force) == \
        (D("0.02"), D("50000.0"), "IOC")
    assert prepared.price == 100_010.0, "valued at the market, which is worth more than its limit"


async def test_a_limit_order_is_valued_at_the_worse_of_its_price_and_the_market(env: Env) -> None:
    # a SELL limited below the bid fills at the bid: valued at the bid, not at its limit
    through = await env(intent(side="SELL", order_type="LIMIT", price=96_000, time_in_force="IOC"))
    assert through.denial is None and (through.price, through.mark) == (99_990.0, 99_990.0)
    # a BUY limited above the ask may fill up to its limit: valued at the limit
    above = await env(intent(order_type="LIMIT", price=104_000))
    assert above.denial is None and (above.price, above.mark) == (104_000.0, 100_010.0)
    market = await env(intent(side="SELL"))
    assert (market.price, market.mark) == (99_990.0, 99_990.0)


async def test_the_sanity_bound_values_a_limit_order_at_the_market(env: Env) -> None:
    # 10.005 BTC: 960,480 USD at its limit of 96,000, but 1,000,399.95 at the bid of 99,990
    prepared = await env(intent(side="SELL", quantity=10.005, order_type="LIMIT", price=96_000, time_in_force="IOC"))
    denied(prepared, Reason.INVALID_INTENT)
    assert "1000399.95 USD is above the sanity bound" in prepared.denial.message  # type: ignore[union-attr]


async def test_a_limit_price_outside_the_exchange_band_is_refused(env: Env, aredis: aioredis.Redis,
                                                                  redis_url: str) -> None:
    # USD-M BTC: PERCENT_PRICE, BUY at most 1.05 and SELL at least 0.95 x the mark (PAPER: the mid)
    denied(await env(intent(side="SELL", quantity=1, order_type="LIMIT", price=100, time_in_force="IOC")),
           Reason.EXCHANGE_FILTER,
           "Filter failure: PERCENT_PRICE: price 100 is below 95000, 0.95 x the reference price 100000")
    assert (await env(intent(side="SELL", order_type="LIMIT", price=95_000))).denial is None
    denied(await env(intent(order_type="LIMIT", price=105_000.1)), Reason.EXCHANGE_FILTER)
    spot = env_for(aredis, redis_url, binance_market=Market.SPOT)
    denied(await spot(intent(side="SELL", order_type="LIMIT", price=19_999.99)), Reason.EXCHANGE_FILTER,
           "Filter failure: PERCENT_PRICE_BY_SIDE: price 19999.99 is below 20000, 0.2 x the reference price 100000")


async def test_step_of_one_rounds_to_whole_coins(env: Env) -> None:
    # SOL futures step 1: 1,000 / 180.018 = 5.55 -> 5
    prepared = await env(intent(symbol="SOLUSDT", notional_usd=1000))
    assert prepared.request is not None and prepared.request.quantity == D("5")


async def test_symbol_not_allowed(env: Env) -> None:
    prepared = await env(intent(symbol="DOGEUSDT"))
    denied(prepared, Reason.SYMBOL_NOT_ALLOWED, "DOGEUSDT is not in ALLOWED_SYMBOLS")
    assert prepared.quantity == 0.01


async def test_allowed_but_unknown_to_the_exchange(env: Env) -> None:
    denied(await env(intent(symbol="PEPEUSDT")), Reason.INVALID_INTENT,
           "unknown symbol PEPEUSDT: the exchange does not list it")


async def test_listed_symbol_without_a_price_is_exchange_unavailable(env: Env) -> None:
    denied(await env(intent(symbol="ETHUSDT")), Reason.EXCHANGE_UNAVAILABLE, "no price for ETHUSDT: no PAPER price for ETHUSDT: set PAPER_PRICES")


async def test_leverage_above_the_limit(env: Env) -> None:
    assert (await env(intent(leverage=10))).denial is None
    denied(await env(intent(leverage=11)), Reason.LEVERAGE_LIMIT, "leverage 11x is above the 10x limit")


async def test_spot_refuses_leverage(aredis: aioredis.Redis, redis_url: str) -> None:
    spot = env_for(aredis, redis_url, binance_market=Market.SPOT)
    denied(await spot(intent(leverage=2)), Reason.LEVERAGE_LIMIT, "spot orders cannot use leverage: send leverage 1")
    assert (await spot(intent(leverage=1))).denial is None


async def test_spot_rounds_to_the_spot_step(aredis: aioredis.Redis, redis_url: str) -> None:
    spot = env_for(aredis, redis_url, binance_market=Market.SPOT)
    # spot BTC step 0.00001: 1,000 / 100,010 = 0.00999900... -> 0.00999
    prepared = await spot(intent(notional_usd=1000))
    assert prepared.request is not None and prepared.request.quantity == D("0.00999")


async def test_expired_intent(env: Env) -> None:
    assert (await env(intent(created_at=NOW - 30))).denial is None
    prepared = await env(intent(created_at=(NOW - 31) * 1000))
    denied(prepared, Reason.INTENT_EXPIRED, "intent is 31.0s old, older than MAX_INTENT_AGE_S=30")
    assert prepared.price == 100_010.0


async def test_filter_failure_when_the_size_rounds_to_zero(env: Env) -> None:
    # 50 / 100,010 = 0.0004999 -> 0
    denied(await env(intent(notional_usd=50)), Reason.EXCHANGE_FILTER,
           "Filter failure: LOT_SIZE: quantity rounds to zero at this step size")


async def test_filter_failure_below_min_notional(env: Env) -> None:
    # a BUY of 0.001 at the ask is 100.01 USD and passes; a SELL of 0.001 at the bid is 99.99 < 100
    assert (await env(intent(quantity=0.001))).denial is None
    prepared = await env(intent(side="SELL", quantity=0.001))
    denied(prepared, Reason.EXCHANGE_FILTER, "Filter failure: MIN_NOTIONAL: notional 99.99 is below the minimum 100")
    assert prepared.quantity == 0.001


async def test_a_small_reduce_only_futures_order_is_not_held_to_min_notional(env: Env) -> None:
    """Binance accepts it ("unless you choose reduce only"), so a small remainder can be closed."""
    prepared = await env(intent(side="SELL", quantity=0.001, reduce_only=True))
    assert prepared.denial is None
    assert prepared.request is not None and prepared.request.reduce_only


async def test_limit_price_off_the_tick_fails_the_price_filter(env: Env) -> None:
    denied(await env(intent(order_type="LIMIT", price=100_000.05)), Reason.EXCHANGE_FILTER,
           "Filter failure: PRICE_FILTER: price 100000.05 is not a multiple of tickSize 0.10")


async def test_sanity_bound_on_order_notional(env: Env) -> None:
    # 11 BTC x 100,010 = 1,100,110 USD > 1,000,000
    prepared = await env(intent(quantity=11))
    denied(prepared, Reason.INVALID_INTENT)
    assert "above the sanity bound 1000000.00 USD" in prepared.denial.message  # type: ignore[union-attr]
    assert prepared.quantity == 11.0
    # an absurd notional is caught by the same bound before any filter
    denied(await env(intent(notional_usd=1e300)), Reason.INVALID_INTENT)


async def test_checks_run_in_order(env: Env) -> None:
    everything_wrong = dict(leverage=50, created_at=1_000_000_000, quantity=1e6)
    denied(await env(intent(symbol="DOGEUSDT", **everything_wrong)), Reason.SYMBOL_NOT_ALLOWED)
    denied(await env(intent(**everything_wrong)), Reason.LEVERAGE_LIMIT)
    denied(await env(intent(created_at=1_000_000_000, quantity=1e6)), Reason.INTENT_EXPIRED)
    denied(await env(intent(quantity=1e6)), Reason.INVALID_INTENT)


async def test_quotes_are_fetched_once_per_batch(env: Env) -> None:
    quotes: dict[str, Quote] = {}
    await env(intent(), quotes)
    assert quotes == {"BTCUSDT": Quote(bid=D("99990"), ask=D("100010"))}
    # a quote already in the batch's table is used as it is
    quotes["BTCUSDT"] = Quote(bid=D("49990"), ask=D("50010"))
    prepared = await env(intent(notional_usd=1000), quotes)
    assert prepared.price == 50_010.0
    assert prepared.request is not None and prepared.request.quantity == D("0.019")


async def test_reduce_only_and_the_client_order_id_travel_with_the_request(env: Env) -> None:
    parsed = intent(side="SELL", reduce_only=True, intent_id="keep-me")
    prepared = await env(parsed)
    assert prepared.request is not None
    assert prepared.request.reduce_only is True
    assert prepared.request.client_order_id == parsed.client_order_id
