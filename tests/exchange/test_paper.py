"""The PAPER venue with its real Lua wallet in a real Redis, against hand-computed numbers.

Prices are set with no spread and no slippage where the arithmetic is the point, so every number
below can be checked on paper: margin = notional / leverage, fee = notional x rate.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.config import Market, Settings, load_settings
from app.exchange.base import ExecutionReport, OrderRequest
from app.exchange.paper import PaperExchange
from app.exchange.pricing import StaticPrices
from app.keys import Keys
from app.models.result import Reason, Status
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics

BTC = "BTCUSDT"


def make_settings(redis_url: str, market: Market = Market.USDM, balance: float = 10_000,
                  slippage_bps: float = 0) -> Settings:
    return load_settings({}, redis_url=redis_url, binance_market=market, paper_balance_usd=balance,
                         paper_slippage_bps=slippage_bps, consumer_name="test")


def venue(aredis: aioredis.Redis, settings: Settings, mids: dict[str, str] | None = None,
          spread_bps: str = "0") -> PaperExchange:
    prices = StaticPrices({s: D(p) for s, p in (mids or {BTC: "100000"}).items()}, D(spread_bps))
    return PaperExchange(settings, aredis, Keys.from_settings(settings), Scripts.register(aredis), prices, Metrics())


def order(qty: str, side: str = "BUY", coid: str = "ex-1", leverage: int = 1, order_type: str = "MARKET",
          price: str | None = None, tif: str = "GTC", reduce_only: bool = False, symbol: str = BTC) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, quantity=D(qty), order_type=order_type, client_order_id=coid,
                        leverage=leverage, price=D(price) if price else None, time_in_force=tif,
                        reduce_only=reduce_only)


async def wallet(aredis: aioredis.Redis, settings: Settings) -> dict[str, float]:
    raw = await aredis.hgetall(Keys.from_settings(settings).paper_wallet)
    return {k.decode(): float(v) for k, v in raw.items()}


def filled(report: ExecutionReport, qty: str, price: str, fee: str) -> None:
    assert report.status is Status.FILLED, report
    assert report.reason is None
    assert report.executed_qty == D(qty)
    assert report.avg_price == D(price)
    assert report.quote_qty == D(qty) * D(price)
    assert report.fee == D(fee)
    assert report.fee_asset == "USDT"
    assert report.exchange_order_id


# -- USD-M futures ------------------------------------------------------------------------------

async def test_futures_margin_is_notional_over_leverage(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    report = await venue(aredis, s).place_order(order("0.01", leverage=10))
    # notional 0.01 x 100,000 = 1,000 ; margin 1,000 / 10 = 100 ; fee 1,000 x 0.0004 = 0.4
    filled(report, "0.01", "100000", "0.4")
    w = await wallet(aredis, s)
    assert w["balance"] == pytest.approx(9999.6)
    assert w["locked"] == pytest.approx(100)
    assert (w["q:BTCUSDT"], w["e:BTCUSDT"], w["m:BTCUSDT"]) == (pytest.approx(0.01), 100000, pytest.approx(100))


async def test_futures_insufficient_margin_is_minus_2019(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, balance=100)
    # margin 100 + fee 0.4 > 100
    report = await venue(aredis, s).place_order(order("0.01", leverage=10))
    assert (report.status, report.reason, report.exchange_code) == \
        (Status.REJECTED, Reason.INSUFFICIENT_BALANCE, -2019)
    assert report.message == "Margin is insufficient."
    assert report.executed_qty == 0
    w = await wallet(aredis, s)
    assert w == {"balance": 100}
    assert await venue(aredis, s).query_order(BTC, "ex-1") is None


async def test_futures_margin_plus_fee_exactly_equal_to_the_wallet_passes(aredis: aioredis.Redis,
                                                                          redis_url: str) -> None:
    s = make_settings(redis_url, balance=100.4)
    report = await venue(aredis, s).place_order(order("0.01", leverage=10))
    filled(report, "0.01", "100000", "0.4")
    assert (await wallet(aredis, s))["balance"] == pytest.approx(100)


async def test_locked_margin_is_not_available_for_the_next_order(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, balance=1000)
    ex = venue(aredis, s)
    # first: margin 500 (0.05 x 100,000 / 10) + fee 2 ; balance 998, locked 500, available 498
    filled(await ex.place_order(order("0.05", leverage=10, coid="a")), "0.05", "100000", "2")
    # second: margin 500 + fee 2 > 498
    second = await ex.place_order(order("0.05", leverage=10, coid="b"))
    assert (second.reason, second.exchange_code) == (Reason.INSUFFICIENT_BALANCE, -2019)
    # a smaller one fits: margin 400 + fee 1.6 <= 498
    filled(await ex.place_order(order("0.04", leverage=10, coid="c")), "0.04", "100000", "1.6")
    w = await wallet(aredis, s)
    assert (w["balance"], w["locked"]) == (pytest.approx(996.4), pytest.approx(900))


async def test_reducing_releases_margin_and_realizes_pnl(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    await venue(aredis, s).place_order(order("0.01", leverage=10, coid="open"))
    higher = venue(aredis, s, {BTC: "110000"})
    # close half at 110,000: realized 0.005 x 10,000 = 50 ; fee 0.005 x 110,000 x 0.0004 = 0.22
    # margin released: 100 x 0.005 / 0.01 = 50
    half = await higher.place_order(order("0.005", side="SELL", leverage=10, coid="half", reduce_only=True))
    filled(half, "0.005", "110000", "0.22")
    w = await wallet(aredis, s)
    assert w["balance"] == pytest.approx(9999.6 + 50 - 0.22)
    assert w["locked"] == pytest.approx(50)
    assert (w["q:BTCUSDT"], w["e:BTCUSDT"], w["m:BTCUSDT"]) == (pytest.approx(0.005), 100000, pytest.approx(50))
    rest = await higher.place_order(order("0.005", side="SELL", leverage=10, coid="rest"))
    filled(rest, "0.005", "110000", "0.22")
    w = await wallet(aredis, s)
    assert w["balance"] == pytest.approx(10099.16)
    assert (w["locked"], w["q:BTCUSDT"], w["e:BTCUSDT"], w["m:BTCUSDT"]) == (0, 0, 0, 0)


async def test_a_losing_close_pays_the_loss_from_the_balance(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    await venue(aredis, s).place_order(order("0.01", side="SELL", leverage=5, coid="short"))
    # short 0.01 at 100,000 (margin 200, fee 0.4); buy back at 120,000: loss 200, fee 0.48
    report = await venue(aredis, s, {BTC: "120000"}).place_order(order("0.01", leverage=5, coid="cover"))
    filled(report, "0.01", "120000", "0.48")
    w = await wallet(aredis, s)
    assert w["balance"] == pytest.approx(10_000 - 0.4 - 200 - 0.48)
    assert (w["locked"], w["q:BTCUSDT"]) == (0, 0)


async def test_flip_locks_margin_for_the_new_side_only(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    await ex.place_order(order("0.01", leverage=10, coid="long"))
    # sell 0.03 at 100,000: closes 0.01 (margin 100 released, PnL 0) and opens 0.02 short (margin 200)
    flip = await ex.place_order(order("0.03", side="SELL", leverage=10, coid="flip"))
    filled(flip, "0.03", "100000", "1.2")
    w = await wallet(aredis, s)
    assert w["balance"] == pytest.approx(10_000 - 0.4 - 1.2)
    assert (w["locked"], w["q:BTCUSDT"], w["e:BTCUSDT"], w["m:BTCUSDT"]) == \
        (pytest.approx(200), pytest.approx(-0.02), 100000, pytest.approx(200))


async def test_reduce_only_without_a_position_is_rejected(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    report = await venue(aredis, s).place_order(order("0.01", side="SELL", reduce_only=True))
    assert (report.status, report.reason, report.exchange_code) == \
        (Status.REJECTED, Reason.EXCHANGE_REJECTED, -2022)
    assert report.message == "ReduceOnly Order is rejected."


# -- spot ---------------------------------------------------------------------------------------

async def test_spot_buy_needs_the_quote_balance(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, Market.SPOT, balance=1000)
    ex = venue(aredis, s)
    # 0.01 BTC x 100,000 = 1,000 + fee 1 (0.1%) > 1,000
    too_much = await ex.place_order(order("0.01", coid="big"))
    assert (too_much.status, too_much.reason, too_much.exchange_code) == \
        (Status.REJECTED, Reason.INSUFFICIENT_BALANCE, -2010)
    assert too_much.message == "Account has insufficient balance for requested action."
    # 0.005 BTC: 500 + fee 0.5
    filled(await ex.place_order(order("0.005", coid="small")), "0.005", "100000", "0.5")
    w = await wallet(aredis, s)
    assert (w["balance"], w["b:BTC"]) == (pytest.approx(499.5), pytest.approx(0.005))


async def test_spot_sell_needs_the_base_asset(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, Market.SPOT, balance=1000)
    ex = venue(aredis, s)
    nothing = await ex.place_order(order("0.001", side="SELL", coid="naked"))
    assert (nothing.reason, nothing.exchange_code) == (Reason.INSUFFICIENT_BALANCE, -2010)
    await ex.place_order(order("0.005", coid="buy"))
    more = await ex.place_order(order("0.006", side="SELL", coid="more"))
    assert (more.reason, more.exchange_code) == (Reason.INSUFFICIENT_BALANCE, -2010)
    # sell all 0.005 at 100,000: +500 - fee 0.5
    filled(await ex.place_order(order("0.005", side="SELL", coid="all")), "0.005", "100000", "0.5")
    w = await wallet(aredis, s)
    assert (w["balance"], w["b:BTC"]) == (pytest.approx(999), 0)


async def test_spot_buy_exactly_affordable(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, Market.SPOT, balance=1001)
    filled(await venue(aredis, s).place_order(order("0.01")), "0.01", "100000", "1")
    assert (await wallet(aredis, s))["balance"] == pytest.approx(0)


# -- idempotency and look-up ----------------------------------------------------------------------

async def test_same_client_order_id_books_once(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    first = await ex.place_order(order("0.01", leverage=10, coid="ex-same"))
    again = await venue(aredis, s, {BTC: "50000"}).place_order(order("0.02", leverage=10, coid="ex-same"))
    assert again.status is Status.FILLED
    assert (again.exchange_order_id, again.executed_qty, again.avg_price, again.fee) == \
        (first.exchange_order_id, D("0.01"), D("100000"), D("0.4"))
    w = await wallet(aredis, s)
    assert (w["balance"], w["q:BTCUSDT"]) == (pytest.approx(9999.6), pytest.approx(0.01))


async def test_same_client_order_id_twice_in_one_batch(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    reports = await venue(aredis, s).place_orders([order("0.01", coid="dup"), order("0.01", coid="dup")])
    assert [r.exchange_order_id for r in reports] == [reports[0].exchange_order_id] * 2  # type: ignore[union-attr]
    assert (await wallet(aredis, s))["q:BTCUSDT"] == pytest.approx(0.01)


async def test_a_batch_is_booked_order_by_order(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, balance=150)
    reports = await venue(aredis, s).place_orders([
        order("0.01", leverage=10, coid="fits"),        # margin 100 + fee 0.4
        order("0.01", leverage=10, coid="no-room"),     # 100.4 more does not fit in 49.6
        order("0.001", symbol="NOPEUSDT", coid="nope"),
    ])
    statuses = [(r.status, r.reason) for r in reports]  # type: ignore[union-attr]
    assert statuses == [(Status.FILLED, None), (Status.REJECTED, Reason.INSUFFICIENT_BALANCE),
                        (Status.REJECTED, Reason.EXCHANGE_REJECTED)]
    assert [int(r.exchange_order_id) for r in reports[:1]] == [1]  # type: ignore[union-attr]


async def test_query_order_returns_the_stored_order_or_none(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    assert await ex.query_order(BTC, "ex-q") is None
    placed = await ex.place_order(order("0.01", side="SELL", leverage=2, coid="ex-q"))
    found = await ex.query_order(BTC, "ex-q")
    assert found is not None
    assert (found.status, found.raw_status, found.exchange_order_id, found.executed_qty, found.avg_price,
            found.quote_qty, found.fee, found.fee_asset) == \
        (Status.FILLED, "FILLED", placed.exchange_order_id, D("0.01"), D("100000"), D("1000"), D("0.4"), "USDT")


async def test_order_ids_increase(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    ids = [int((await ex.place_order(order("0.001", coid=f"seq-{i}"))).exchange_order_id or 0) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


# -- LIMIT orders, filters, prices ----------------------------------------------------------------

async def test_non_marketable_gtc_limit_rests_as_new(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    report = await ex.place_order(order("0.01", order_type="LIMIT", price="90000", tif="GTC"))
    assert (report.status, report.reason, report.raw_status, report.executed_qty) == \
        (Status.NEW, Reason.ORDER_OPEN, "NEW", 0)
    assert await wallet(aredis, s) == {}


@pytest.mark.parametrize("tif", ["IOC", "FOK"])
async def test_non_marketable_ioc_fok_limit_expires(aredis: aioredis.Redis, redis_url: str, tif: str) -> None:
    s = make_settings(redis_url)
    report = await venue(aredis, s).place_order(order("0.01", side="SELL", order_type="LIMIT", price="110000",
                                                      tif=tif))
    assert (report.status, report.reason, report.raw_status) == (Status.REJECTED, Reason.ORDER_CANCELED, "EXPIRED")
    assert tif in report.message
    assert await wallet(aredis, s) == {}


async def test_marketable_limit_fills_at_the_touch(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, slippage_bps=5)
    # mid 100,000, spread 2 bps: ask 100,010 ; a BUY limit at 100,500 fills at the ask, no slippage
    report = await venue(aredis, s, spread_bps="2").place_order(order("0.01", order_type="LIMIT", price="100500"))
    filled(report, "0.01", "100010", "0.40004")


async def test_market_order_with_spread_and_slippage(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url, slippage_bps=5)
    # bid 99,990 - 5 bps (49.995) = 99,940.005 -> tick 0.10: 99,940.0 ; fee 0.01 x 99,940 x 0.0004 = 0.39976
    report = await venue(aredis, s, spread_bps="2").place_order(order("0.01", side="SELL"))
    filled(report, "0.01", "99940", "0.39976")


@pytest.mark.parametrize(("market", "qty", "filter_name", "code"), [
    (Market.USDM, "0.0005", "LOT_SIZE", None),
    (Market.USDM, "0.0011", "LOT_SIZE", None),
    (Market.USDM, "121", "MARKET_LOT_SIZE", None),
    (Market.USDM, "0", "LOT_SIZE", None),
    (Market.SPOT, "0.000001", "LOT_SIZE", -1013),
    (Market.SPOT, "0.00004", "MIN_NOTIONAL", -1013),
])
async def test_filter_failures_are_rejected_like_the_exchange(aredis: aioredis.Redis, redis_url: str, market: Market,
                                                              qty: str, filter_name: str, code: Any) -> None:
    s = make_settings(redis_url, market)
    report = await venue(aredis, s).place_order(order(qty))
    assert (report.status, report.reason, report.message) == \
        (Status.REJECTED, Reason.EXCHANGE_FILTER, f"Filter failure: {filter_name}")
    if code is not None:
        assert report.exchange_code == code
    assert await wallet(aredis, s) == {}


async def test_futures_min_notional_is_minus_4164(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    # 0.001 BTC x 95,000 = 95 < 100
    report = await venue(aredis, s, {BTC: "95000"}).place_order(order("0.001"))
    assert (report.reason, report.exchange_code, report.message) == \
        (Reason.EXCHANGE_FILTER, -4164, "Filter failure: MIN_NOTIONAL")


async def test_limit_price_off_the_tick_is_a_price_filter_failure(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    report = await venue(aredis, s).place_order(order("0.01", order_type="LIMIT", price="100000.05"))
    assert (report.reason, report.message) == (Reason.EXCHANGE_FILTER, "Filter failure: PRICE_FILTER")


@pytest.mark.parametrize(("market", "side", "price", "filter_name", "code"), [
    (Market.USDM, "SELL", "100", "PERCENT_PRICE", -4164),         # below 0.95 x the mark
    (Market.USDM, "BUY", "105000.1", "PERCENT_PRICE", -4164),     # above 1.05 x the mark
    (Market.SPOT, "SELL", "19999.99", "PERCENT_PRICE_BY_SIDE", -1013),  # below 0.2 x the average
    (Market.SPOT, "BUY", "500000.01", "PERCENT_PRICE_BY_SIDE", -1013),  # above 5 x the average
])
async def test_a_limit_price_far_from_the_market_fails_the_price_band(aredis: aioredis.Redis, redis_url: str,
                                                                      market: Market, side: str, price: str,
                                                                      filter_name: str, code: int) -> None:
    """Marketable, it would fill at the touch whatever its price: the exchange refuses it, and so does PAPER."""
    s = make_settings(redis_url, market, balance=10_000_000)
    report = await venue(aredis, s, spread_bps="2").place_order(
        order("0.01", side=side, order_type="LIMIT", price=price, tif="IOC"))
    assert (report.status, report.reason, report.message, report.exchange_code) == \
        (Status.REJECTED, Reason.EXCHANGE_FILTER, f"Filter failure: {filter_name}", code)
    assert await wallet(aredis, s) == {}


async def test_unknown_symbol_is_minus_1121(aredis: aioredis.Redis, redis_url: str) -> None:
    s = make_settings(redis_url)
    ex = venue(aredis, s)
    report = await ex.place_order(order("1", symbol="NOPEUSDT"))
    assert (report.status, report.reason, report.exchange_code, report.message) == \
        (Status.REJECTED, Reason.EXCHANGE_REJECTED, -1121, "Invalid symbol.")
    assert await ex.rules("NOPEUSDT") is None


async def test_a_listed_symbol_without_a_price_cannot_be_quoted(aredis: aioredis.Redis, redis_url: str) -> None:
    ex = venue(aredis, make_settings(redis_url), {BTC: "100000"})
    with pytest.raises(LookupError, match="no PAPER price for ETHUSDT"):
        await ex.quote("ETHUSDT")
    assert (await ex.rules("ETHUSDT")) is not None
