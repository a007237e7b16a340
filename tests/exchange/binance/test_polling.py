"""The polling backstop's venue side against the fake Binance: openOrders, look-ups, and what each
answer becomes, each update run through the order state machine."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.exchange.binance import polling
from app.exchange.binance.adapter import BinanceAdapter
from app.exchange.binance.markets import USDM, Endpoint
from app.orders.machine import ExecutionType, Order, OrderStatus, apply
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.test_changes import booked, resting
from tests.fakes.binance_server import FakeBinance

OPEN_ORDERS = {"usdm": ("/fapi/v1/openOrders", 1), "spot": ("/api/v3/openOrders", 6)}
LOOK_UP = {"usdm": ("/fapi/v1/order", 1), "spot": ("/api/v3/order", 4)}


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "END_GRACE_MS", 0)


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_an_unchanged_order_costs_one_open_orders_call_and_changes_nothing(
        make_adapter: MakeAdapter, fake: FakeBinance, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    order = await resting(adapter, "ex-poll-quiet")
    poll = await adapter.poll_orders([order])
    assert poll is not None and (poll.updates, poll.known, poll.unknown) == ({}, [order.intent_id], [])
    path, weight = OPEN_ORDERS[market]
    [sent] = fake.sent("GET", path)
    assert sent.params["symbol"] == "BTCUSDT" and sent.weight == weight == poll.weight
    assert poll.weight_limit_1m is not None


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_partial_fill_then_the_rest_are_booked_once_each(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                 market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    order = await resting(adapter, "ex-poll-fill")
    fake.exchange.fill("ex-poll-fill", "0.004")
    [update] = (await adapter.poll_orders([order])).updates.values()
    assert update.execution_type is ExecutionType.TRADE and update.executed_qty == Decimal("0.004")
    assert update.fill.trade_id == f"{order.exchange_order_id}:0.004"
    partial = booked(order, update)
    assert partial.after.status is OrderStatus.PARTIALLY_FILLED and partial.fill.price == Decimal("60000")
    assert apply(partial.after, update) is None, "a second poll of the same state books nothing"

    fake.exchange.fill("ex-poll-fill")                           # the rest: no longer open, looked up
    again = await adapter.poll_orders([partial.after])
    [update] = again.updates.values()
    done = booked(partial.after, update)
    assert done.after.status is OrderStatus.FILLED and done.fill.quantity == Decimal("0.006")
    assert [r.params["origClientOrderId"] for r in fake.sent("GET", LOOK_UP[market][0])] == ["ex-poll-fill"]
    assert again.weight == OPEN_ORDERS[market][1] + LOOK_UP[market][1]


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_cancel_made_elsewhere_is_booked_with_what_filled_before(
        make_adapter: MakeAdapter, fake: FakeBinance, market: str, no_grace: None) -> None:
    adapter = await make_adapter(binance_market=market)
    order = await resting(adapter, "ex-poll-web")
    fake.exchange.fill("ex-poll-web", "0.002")
    fake.exchange.cancel_elsewhere("ex-poll-web")
    [update] = (await adapter.poll_orders([order])).updates.values()
    assert (update.status, update.executed_qty) == (OrderStatus.CANCELED, Decimal("0.002"))
    change = booked(order, update)
    assert change.fill.quantity == Decimal("0.002") and change.released == Decimal("0.008")


async def test_a_recent_cancel_is_left_to_the_service_cancel_that_may_have_made_it(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    order = await resting(adapter, "ex-poll-own")
    await adapter.cancel_order(order)                            # answered, not written yet
    poll = await adapter.poll_orders([order])
    assert poll.updates == {} and poll.known == [order.intent_id] and poll.unknown == []


async def test_a_spot_order_being_replaced_is_left_to_the_amend(make_adapter: MakeAdapter, fake: FakeBinance,
                                                                no_grace: None) -> None:
    adapter = await make_adapter(binance_market="spot")
    order = await resting(adapter, "ex-poll-amend")
    amended = await adapter.amend_order(order, Decimal("59000"), None)   # done at Binance, not booked yet
    assert amended.execution_type is ExecutionType.AMENDED
    poll = await adapter.poll_orders([order])
    assert poll.updates == {} and poll.known == [order.intent_id]
    following = replace(order, client_order_id=amended.client_order_id, price=Decimal("59000"))
    assert (await adapter.poll_orders([following])).updates == {}


async def test_an_order_binance_does_not_know_is_reported_unknown(make_adapter: MakeAdapter,
                                                                  fake: FakeBinance) -> None:
    adapter = await make_adapter()
    order = await resting(adapter, "ex-poll-gone")
    fake.exchange.forget("ex-poll-gone")
    poll = await adapter.poll_orders([order])
    assert (poll.updates, poll.known, poll.unknown) == ({}, [], [order.intent_id])


async def test_many_symbols_are_asked_in_one_call_when_that_weighs_less(make_adapter: MakeAdapter,
                                                                        fake: FakeBinance) -> None:
    adapter = await make_adapter()
    orders = [await resting(adapter, "ex-poll-btc"),
              replace(await resting(adapter, "ex-poll-eth-x"), symbol="ETHUSDT", intent_id="eth")]
    await adapter.poll_orders(orders)
    assert [r.params.get("symbol") for r in fake.sent("GET", "/fapi/v1/openOrders")] == ["BTCUSDT", "ETHUSDT"]
    adapter._transport.api = replace(USDM, open_orders_all=Endpoint("open_orders_all", 1, signed=True))
    fake.requests.clear()
    poll = await adapter.poll_orders(orders)
    [sent] = fake.sent("GET", "/fapi/v1/openOrders")
    assert "symbol" not in sent.params and sent.weight == 40 and poll.known == [orders[0].intent_id]


async def test_a_look_up_failure_leaves_the_rest_for_the_next_poll(make_adapter: MakeAdapter,
                                                                   fake: FakeBinance) -> None:
    adapter: BinanceAdapter = await make_adapter()
    orders = [await resting(adapter, f"ex-poll-lf{i}") for i in range(2)]
    for o in orders:
        fake.exchange.fill(o.client_order_id)
    fake.faults.fail_lookups = 1
    poll = await adapter.poll_orders(orders)
    assert (poll.updates, poll.known, poll.unknown) == ({}, [], [])
    assert len(fake.sent("GET", "/fapi/v1/order")) == 1
    assert len((await adapter.poll_orders(orders)).updates) == 2
