"""Commissions against the fake Binance: read from the order's trades when the answer has none, every
trade summed, valued in the quote asset (base asset at the average price, BNB at BNBUSDT's mid)."""

from __future__ import annotations

from decimal import Decimal
from typing import AsyncIterator

import pytest

from app.models.result import Status
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_exchange import FakeExchange
from tests.fakes.binance_server import FakeBinance

TRADES = {"usdm": "/fapi/v1/userTrades", "spot": "/api/v3/myTrades"}


async def test_a_usdm_order_found_by_look_up_books_the_commission_of_its_user_trades(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    placed = await adapter.place_order(order("ex-fee-1", quantity="0.01"))
    assert placed.status is Status.FILLED and fake.sent("GET", TRADES["usdm"]) == [], "a fresh answer reads no trades"
    report = await adapter.query_order("BTCUSDT", "ex-fee-1")
    assert report is not None
    expected = Decimal("65000.1") * Decimal("0.01") * Decimal("0.0004")
    assert report.commissions == {"USDT": expected} and (report.fee, report.fee_asset) == (expected, "USDT")
    [read] = fake.sent("GET", TRADES["usdm"])
    assert read.params["orderId"] == report.exchange_order_id and read.params["symbol"] == "BTCUSDT"
    assert read.weight == 5 and read.status == 200


async def test_every_trade_of_a_partly_filled_order_is_summed(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    resting = await adapter.place_order(order("ex-fee-part", order_type="LIMIT", price=Decimal(60000)))
    assert resting.status is Status.NEW and fake.sent("GET", TRADES["usdm"]) == []   # nothing executed: no read
    fake.exchange.fill("ex-fee-part", "0.004")
    fake.exchange.fill("ex-fee-part", "0.006")
    found = await adapter.query_order("BTCUSDT", "ex-fee-part")
    assert found is not None and found.status is Status.FILLED
    assert found.fee == Decimal(60000) * Decimal("0.01") * Decimal("0.0004") and found.fee_asset == "USDT"


async def test_a_commission_that_cannot_be_read_leaves_the_fill_booked_without_it(
        make_adapter: MakeAdapter, fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = await make_adapter()
    monkeypatch.setattr(fake.exchange, "trades_of", lambda *a: [])        # trades not listed yet
    await adapter.place_order(order("ex-fee-lag"))
    report = await adapter.query_order("BTCUSDT", "ex-fee-lag")
    assert report is not None and report.status is Status.FILLED and report.executed_qty == Decimal("0.01")
    assert (report.fee, report.commissions) == (Decimal(0), {})


async def test_a_spot_commission_in_the_base_asset_is_valued_at_the_average_price(make_adapter: MakeAdapter,
                                                                                  fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    report = await adapter.place_order(order("ex-fee-base", side="BUY", quantity="0.02"))
    assert report.commissions == {"BTC": Decimal("0.00002")}
    assert (report.fee, report.fee_asset) == (Decimal("0.00002") * report.avg_price, "USDT")
    assert fake.sent("GET", TRADES["spot"]) == []                          # the FULL answer had the fills


async def test_a_spot_look_up_reads_the_commission_from_my_trades(make_adapter: MakeAdapter,
                                                                  fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    placed = await adapter.place_order(order("ex-fee-look", side="SELL", quantity="0.02"))
    found = await adapter.query_order("BTCUSDT", "ex-fee-look")
    assert found is not None and found.commissions == placed.commissions == {"USDT": Decimal("1.2999998")}
    assert found.fee == placed.fee == Decimal("1.2999998")
    [read] = fake.sent("GET", TRADES["spot"])
    assert read.weight == 20 and read.params["orderId"] == placed.exchange_order_id


@pytest.fixture
async def bnb_fees() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(exchange=FakeExchange(spot_fee_asset="BNB")) as server:
        yield server


async def test_a_spot_commission_in_bnb_is_valued_at_bnbusdts_mid(make_adapter: MakeAdapter,
                                                                    bnb_fees: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot", binance_base_url=bnb_fees.url)
    report = await adapter.place_order(order("ex-fee-bnb", side="SELL", quantity="0.02"))
    bnb = (Decimal("64999.99") * Decimal("0.02") * Decimal("0.001") / 600).quantize(Decimal("1e-8"))
    assert report.commissions == {"BNB": bnb}
    bid, ask = bnb_fees.exchange.touch("spot", "BNBUSDT")
    assert (report.fee, report.fee_asset) == (bnb * (bid + ask) / 2, "USDT")
    again = await adapter.place_order(order("ex-fee-bnb2", side="SELL", quantity="0.02"))
    assert again.fee == report.fee
    tickers = [r.params["symbol"] for r in bnb_fees.sent("GET", "/api/v3/ticker/bookTicker")]
    assert tickers.count("BNBUSDT") == 1                                   # the mid is reused for a minute
