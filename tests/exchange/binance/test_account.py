"""Reconciliation's venue side against the fake Binance: every open order and, on USD-M, the
positions (positionRisk), each call charged its documented weight; the fake's account documents
derived from its fills, including another client's orders and a liquidation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.exchange.binance.adapter import ExchangeUnavailable
from app.exchange.binance.drift import VenuePosition
from tests.exchange.binance.conftest import MakeAdapter
from tests.fakes.binance_server import FakeBinance


async def test_usdm_account_lists_every_open_order_and_the_positions(make_adapter: MakeAdapter,
                                                                     fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="usdm")
    fake.exchange.place_elsewhere("usdm", "BTCUSDT", "BUY", "0.010")
    fake.exchange.place_elsewhere("usdm", "ETHUSDT", "SELL", "0.5", price="3600", client_order_id="web_resting")
    account = await adapter.account()
    assert [(o.symbol, o.client_order_id, o.side, o.quantity) for o in account.open_orders] == [
        ("ETHUSDT", "web_resting", "SELL", Decimal("0.5"))]
    assert account.positions == {"BTCUSDT": VenuePosition(Decimal("0.01"), Decimal("65000"))}
    [orders] = fake.sent("GET", "/fapi/v1/openOrders")
    [risk] = fake.sent("GET", "/fapi/v3/positionRisk")
    assert "symbol" not in orders.params and (orders.weight, risk.weight) == (40, 5)


async def test_a_liquidation_closes_the_position_with_an_autoclose_order(make_adapter: MakeAdapter,
                                                                         fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="usdm")
    fake.exchange.place_elsewhere("usdm", "BTCUSDT", "BUY", "0.010")
    liquidation = fake.exchange.liquidate("BTCUSDT", "0.004")
    assert liquidation.client_order_id.startswith("autoclose-") and liquidation.side == "SELL"
    account = await adapter.account()
    assert account.positions is not None and account.positions["BTCUSDT"].quantity == Decimal("0.006")
    fake.exchange.liquidate("BTCUSDT")
    assert (await adapter.account()).positions == {}


async def test_spot_has_open_orders_and_no_positions(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    fake.exchange.place_elsewhere("spot", "BTCUSDT", "BUY", "0.01", price="60000", client_order_id="web_1")
    account = await adapter.account()
    assert [o.client_order_id for o in account.open_orders] == ["web_1"] and account.positions is None
    [orders] = fake.sent("GET", "/api/v3/openOrders")
    assert orders.weight == 80 and not fake.sent("GET", "/fapi/v3/positionRisk")
    doc = await adapter._transport.call(adapter._api.account, adapter._transport.deadline())
    usdt = next(b for b in doc["balances"] if b["asset"] == "USDT")
    assert Decimal(usdt["locked"]) == Decimal("600") and Decimal(usdt["free"]) == Decimal(1_000_000) - 600


async def test_a_failed_read_is_exchange_unavailable(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="usdm")
    fake.ban(5)
    with pytest.raises(ExchangeUnavailable):
        await adapter.account()
