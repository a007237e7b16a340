"""Binance USD-M's user-data stream client (app/exchange/binance/user_stream.py) against the fake Binance."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from app.exchange.base import AccountChange, PushedChange, StreamClosed
from app.exchange.binance.adapter import BinanceAdapter
from app.exchange.binance.user_stream import TESTNET_URL, stream_url
from app.exchange.ratelimit import BAN
from app.orders.machine import ExecutionType, OrderStatus, apply
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.test_changes import booked, resting
from tests.fakes.binance_exchange import USDM
from tests.fakes.binance_server import FakeBinance


async def connected(make_adapter: MakeAdapter, fake: FakeBinance) -> BinanceAdapter:
    adapter = await make_adapter()
    stream = adapter.user_stream()
    assert stream is not None
    await stream.connect()
    for _ in range(50):
        if fake.user_stream.sockets:
            return adapter
        await asyncio.sleep(0.02)
    raise AssertionError("the stream did not connect")


async def next_changes(adapter: BinanceAdapter) -> list[PushedChange]:
    stream = adapter.user_stream()
    for _ in range(20):
        changes = [c for c in await stream.receive(0.2) if isinstance(c, PushedChange)]  # account changes skipped
        if changes:
            return changes
    raise AssertionError("no order event")


async def test_a_fill_at_the_venue_arrives_as_a_trade_with_binances_trade_id_and_commission(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await connected(make_adapter, fake)
    assert [r.path for r in fake.sent("POST", "/fapi/v1/listenKey")] == ["/fapi/v1/listenKey"]
    order = await resting(adapter, "ex-stream-fill")
    [new] = await next_changes(adapter)
    assert new.client_order_id == "ex-stream-fill" and apply(order, new.update_for(order)) is None  # id known
    fake.exchange.fill("ex-stream-fill", "0.004")
    [pushed] = await next_changes(adapter)
    update = pushed.update_for(order)
    trade = fake.orders_for("ex-stream-fill")[0].trades[0]
    assert update.execution_type is ExecutionType.TRADE and update.fill.trade_id == str(trade["id"])
    assert update.fill.fee == trade["commission"] and update.fill.fee_asset == "USDT"
    assert booked(order, update).after.executed_qty == Decimal("0.004")
    await adapter.user_stream().close()
    assert fake.sent("DELETE", "/fapi/v1/listenKey") == [], "the account's one key stays for whoever takes over"


async def test_a_funding_fee_arrives_as_an_account_change_naming_its_symbol_when_isolated(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await connected(make_adapter, fake)
    wallet = fake.exchange.balances[USDM]["USDT"]
    fake.user_stream.funding("BTCUSDT", "-0.5")
    fake.user_stream.funding("BTCUSDT", "0.2", isolated=False)
    stream, got = adapter.user_stream(), []
    for _ in range(20):
        got += await stream.receive(0.2)
        if len(got) == 2:
            break
    assert [(c.reason, c.balances, c.funding, c.funding_symbol) for c in got if isinstance(c, AccountChange)] == [
        ("FUNDING_FEE", (("USDT", wallet - Decimal("0.5")),), (("USDT", Decimal("-0.5")),), "BTCUSDT"),
        ("FUNDING_FEE", (("USDT", wallet - Decimal("0.3")),), (("USDT", Decimal("0.2")),), None)]
    await stream.close()


async def test_a_cancel_made_elsewhere_arrives_with_the_cumulative_quantity(make_adapter: MakeAdapter,
                                                                            fake: FakeBinance) -> None:
    adapter = await connected(make_adapter, fake)
    order = await resting(adapter, "ex-stream-web")
    await next_changes(adapter)
    fake.exchange.fill("ex-stream-web", "0.002")
    fake.exchange.cancel_elsewhere("ex-stream-web")
    await next_changes(adapter)
    [pushed] = await next_changes(adapter)
    update = pushed.update_for(order)
    assert (update.status, update.executed_qty) == (OrderStatus.CANCELED, Decimal("0.002"))


@pytest.mark.parametrize("fault", ["drop", "expire"])
async def test_a_dropped_socket_or_an_expired_key_ends_the_stream(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                  fault: str) -> None:
    adapter = await connected(make_adapter, fake)
    getattr(fake.user_stream, fault)()
    with pytest.raises(StreamClosed):
        for _ in range(20):
            await adapter.user_stream().receive(0.2)


async def test_keep_alive_extends_the_key_and_a_refusal_ends_the_stream(make_adapter: MakeAdapter,
                                                                       fake: FakeBinance) -> None:
    adapter = await connected(make_adapter, fake)
    stream = adapter.user_stream()
    await stream.keep_alive()
    [sent] = fake.sent("PUT", "/fapi/v1/listenKey")
    assert sent.params["listenKey"] in fake.user_stream.keys and sent.weight == 1
    fake.user_stream.keys.clear()
    with pytest.raises(StreamClosed, match="keep-alive"):
        await stream.keep_alive()


async def test_spot_has_no_stream_yet_and_it_can_be_turned_off(make_adapter: MakeAdapter) -> None:
    assert (await make_adapter(binance_market="spot")).user_stream() is None
    assert (await make_adapter(user_stream_enabled=False)).user_stream() is None


def test_the_stream_root_follows_the_setting_then_the_rest_root_then_the_mode(make_settings) -> None:
    assert stream_url(make_settings(binance_futures_stream_url="wss://proxy.example/")) == "wss://proxy.example"
    assert stream_url(make_settings(binance_futures_base_url="https://rest.example:8443/fapi")) == \
        "wss://rest.example:8443"
    assert stream_url(make_settings(binance_futures_base_url=None)) == TESTNET_URL
    assert stream_url(make_settings(binance_futures_base_url=None, execution_mode="PAPER")) == TESTNET_URL


async def test_a_keep_alive_due_inside_a_ban_is_not_sent_and_keeps_the_stream(make_adapter: MakeAdapter,
                                                                               fake: FakeBinance) -> None:
    adapter = await connected(make_adapter, fake)
    stream = adapter.user_stream()
    adapter._transport.state.window.hold(120, BAN, "HTTP 418")  # another call met a ban: 2 minutes
    await stream.keep_alive()  # the key lives an hour: tried again at the next keep-alive
    assert fake.sent("PUT", "/fapi/v1/listenKey") == [] and len(fake.user_stream.sockets) == 1
    await stream.close()
