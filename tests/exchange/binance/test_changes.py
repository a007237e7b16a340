"""Cancel and amend against the fake Binance, each answer run through the order state machine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.exchange.binance.adapter import BinanceAdapter, ExchangeUnavailable
from app.exchange.binance.updates import replacement_client_order_id
from app.models.result import Reason, Status
from app.orders.machine import AmendRejected, Change, ExecutionType, Fill, Order, OrderStatus, VenueUpdate, apply
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.fakes.binance_server import FakeBinance

ORDER_PATH = {"usdm": "/fapi/v1/order", "spot": "/api/v3/order"}
LIMIT = Decimal("60000")


async def resting(adapter: BinanceAdapter, coid: str, quantity: str = "0.01", **kw: Any) -> Order:
    """A LIMIT BUY below the market, as the service records it once Binance says NEW."""
    report = await adapter.place_order(order(coid, quantity=quantity, order_type="LIMIT", price=LIMIT))
    assert report.status is Status.NEW
    return Order(intent_id=f"intent-{coid}", client_order_id=coid, symbol="BTCUSDT", side="BUY", order_type="LIMIT",
                 quantity=Decimal(quantity), price=LIMIT, exchange_order_id=report.exchange_order_id, mode="TESTNET",
                 **kw)


def booked(before: Order, update: VenueUpdate) -> Change:
    change = apply(before, update)
    assert change is not None
    return change


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_resting_order_is_canceled(make_adapter: MakeAdapter, fake: FakeBinance, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    before = await resting(adapter, "ex-cancel-rest")
    update = await adapter.cancel_order(before)
    assert (update.execution_type, update.status, update.executed_qty) == \
           (ExecutionType.CANCELED, OrderStatus.CANCELED, 0)
    change = booked(before, update)
    assert change.after.status is OrderStatus.CANCELED and change.released == Decimal("0.01") and change.fill is None
    [sent] = fake.sent("DELETE", ORDER_PATH[market])
    assert sent.params["origClientOrderId"] == "ex-cancel-rest" and sent.status == 200
    assert fake.orders_for("ex-cancel-rest")[0].status == "CANCELED"


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_fill_that_raced_the_cancel_is_booked_from_the_venues_executed_quantity(
        make_adapter: MakeAdapter, fake: FakeBinance, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    before = await resting(adapter, "ex-cancel-part")
    fake.exchange.fill("ex-cancel-part", "0.004")                       # not yet known to the service
    update = await adapter.cancel_order(before)
    assert (update.status, update.executed_qty) == (OrderStatus.CANCELED, Decimal("0.004"))
    change = booked(before, update)
    assert change.after.status is OrderStatus.CANCELED and change.after.executed_qty == Decimal("0.004")
    assert change.fill is not None and (change.fill.quantity, change.fill.price) == (Decimal("0.004"), LIMIT)
    assert change.released == Decimal("0.006")


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_cancel_of_an_order_that_filled_meanwhile_makes_it_filled(make_adapter: MakeAdapter,
                                                                          fake: FakeBinance, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    placed = await resting(adapter, "ex-cancel-filled")
    fake.exchange.fill("ex-cancel-filled", "0.004")
    before = booked(placed, VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED, fill=_fill("0.004"))).after
    fake.exchange.fill("ex-cancel-filled")                              # the rest fills before the cancel lands
    update = await adapter.cancel_order(before)
    assert [r.code for r in fake.sent("DELETE", ORDER_PATH[market])] == [-2011]
    assert [r.status for r in fake.sent("GET", ORDER_PATH[market])] == [200]
    change = booked(before, update)
    assert change.after.status is OrderStatus.FILLED and change.after.executed_qty == Decimal("0.01")
    assert change.fill is not None and change.fill.quantity == Decimal("0.006") and change.fill.price == LIMIT
    assert change.released == 0 and update.execution_type is ExecutionType.TRADE


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_cancel_of_an_order_canceled_elsewhere_books_that_cancel(make_adapter: MakeAdapter,
                                                                         fake: FakeBinance, market: str) -> None:
    adapter = await make_adapter(binance_market=market)
    before = await resting(adapter, "ex-cancel-twice")
    await adapter.cancel_order(before)                                  # e.g. another replica, or the web page
    update = await adapter.cancel_order(before)
    assert (update.status, update.executed_qty) == (OrderStatus.CANCELED, 0)
    assert [r.code for r in fake.sent("DELETE", ORDER_PATH[market])] == [None, -2011]


async def test_a_cancel_of_an_order_binance_does_not_know_raises(make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    ghost = Order(intent_id="i-ghost", client_order_id="ex-ghost", symbol="BTCUSDT", side="BUY", order_type="LIMIT",
                  quantity=Decimal("0.01"), price=LIMIT)
    with pytest.raises(ExchangeUnavailable, match="ex-ghost.*does not exist"):
        await adapter.cancel_order(ghost)


async def test_a_cancel_waits_out_a_429_and_sends_nothing_inside_retry_after(make_adapter: MakeAdapter,
                                                                             fake: FakeBinance) -> None:
    adapter = await make_adapter()
    before = await resting(adapter, "ex-cancel-429")
    fake.throttle(retry_after_s=1.0)
    update = await adapter.cancel_order(before)
    assert update.status is OrderStatus.CANCELED
    assert [r.status for r in fake.sent("DELETE", "/fapi/v1/order")] == [429, 200]
    assert fake.requests_in_windows() == []


@pytest.mark.parametrize("market,cancel,amend", [("usdm", (1, 0), (0, 1)), ("spot", (1, 0), (1, 1))])
async def test_cancels_and_amends_take_binances_weights_from_the_shared_budget(
        make_adapter: MakeAdapter, market: str, cancel: tuple[int, int], amend: tuple[int, int]) -> None:
    adapter = await make_adapter(binance_market=market)
    taken: list[tuple[int, int]] = []
    acquire = adapter._budget.acquire

    async def spy(weight: int, orders: int, deadline: float) -> Any:
        taken.append((weight, orders))
        return await acquire(weight, orders, deadline)

    adapter._budget.acquire = spy  # type: ignore[method-assign]
    first = await resting(adapter, "ex-weigh-1")
    taken.clear()
    await adapter.amend_order(first, Decimal("60100"), None)
    assert taken == [amend]
    taken.clear()
    second = await resting(adapter, "ex-weigh-2")
    taken.clear()
    await adapter.cancel_order(second)
    assert taken == [cancel]


async def test_an_amend_without_order_budget_is_rejected_rate_limited_unsent(make_adapter: MakeAdapter,
                                                                            fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot", binance_orders_per_10s=3, max_intent_age_s=1.0)
    before = await resting(adapter, "ex-amend-budget")                  # takes the one order the burst allows
    with pytest.raises(AmendRejected) as refused:
        await adapter.amend_order(before, Decimal("60100"), None)
    assert refused.value.reason is Reason.RATE_LIMITED
    assert fake.sent("POST", "/api/v3/order/cancelReplace") == []


async def test_usdm_modify_changes_price_and_quantity_in_place(make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    before = await resting(adapter, "ex-modify")
    update = await adapter.amend_order(before, Decimal("60100"), Decimal("0.02"))
    assert (update.execution_type, update.price, update.quantity) == \
           (ExecutionType.AMENDED, Decimal("60100"), Decimal("0.02"))
    assert update.exchange_order_id == before.exchange_order_id and update.client_order_id is None
    change = booked(before, update)
    assert (change.after.price, change.after.quantity, change.reserved) == \
           (Decimal("60100"), Decimal("0.02"), Decimal("0.01"))
    [sent] = fake.sent("PUT", "/fapi/v1/order")
    assert {k: sent.params[k] for k in ("origClientOrderId", "side", "quantity", "price")} == \
           {"origClientOrderId": "ex-modify", "side": "BUY", "quantity": "0.02", "price": "60100"}
    [at_venue] = fake.orders_for("ex-modify")
    assert (at_venue.price, at_venue.orig_qty, at_venue.status) == (Decimal("60100"), Decimal("0.02"), "NEW")
    again = await adapter.amend_order(before, Decimal("60100"), Decimal("0.02"))   # e.g. after a timeout: -5027
    assert (again.price, again.quantity) == (Decimal("60100"), Decimal("0.02"))
    assert [r.code for r in fake.sent("PUT", "/fapi/v1/order")] == [None, -5027]


async def test_usdm_modify_refused_by_a_filter_leaves_the_order_and_says_why(make_adapter: MakeAdapter,
                                                                            fake: FakeBinance) -> None:
    adapter = await make_adapter()
    before = await resting(adapter, "ex-modify-tick")
    with pytest.raises(AmendRejected) as refused:
        await adapter.amend_order(before, Decimal("60100.05"), None)
    assert (refused.value.reason, refused.value.code) == (Reason.EXCHANGE_FILTER, -4014)
    assert fake.orders_for("ex-modify-tick")[0].price == LIMIT


async def test_usdm_modify_of_an_order_that_filled_returns_the_fill(make_adapter: MakeAdapter,
                                                                    fake: FakeBinance) -> None:
    adapter = await make_adapter()
    before = await resting(adapter, "ex-modify-filled")
    fake.exchange.fill("ex-modify-filled")
    update = await adapter.amend_order(before, Decimal("60100"), None)
    assert [r.code for r in fake.sent("PUT", "/fapi/v1/order")] == [-2013]
    assert booked(before, update).after.status is OrderStatus.FILLED


async def test_spot_cancel_replace_hands_on_the_new_order_and_the_service_follows_it(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    before = await resting(adapter, "ex-replace")
    update = await adapter.amend_order(before, Decimal("60100"), Decimal("0.02"))
    successor = replacement_client_order_id("ex-replace")
    assert (update.execution_type, update.client_order_id, update.price, update.quantity) == \
           (ExecutionType.AMENDED, successor, Decimal("60100"), Decimal("0.02"))
    after = booked(before, update).after
    assert after.client_order_id == successor and after.exchange_order_id != before.exchange_order_id
    [sent] = fake.sent("POST", "/api/v3/order/cancelReplace")
    assert {k: sent.params[k] for k in ("cancelReplaceMode", "cancelOrigClientOrderId", "newClientOrderId",
                                        "quantity", "price", "cancelRestrictions")} == \
           {"cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "ex-replace",
            "newClientOrderId": successor, "quantity": "0.02", "price": "60100", "cancelRestrictions": "ONLY_NEW"}
    assert fake.orders_for("ex-replace")[0].status == "CANCELED"
    fake.exchange.fill(successor, "0.005")
    canceled = await adapter.cancel_order(after)                        # the cancel reaches the new order
    assert (canceled.status, canceled.executed_qty) == (OrderStatus.CANCELED, Decimal("0.005"))
    assert fake.sent("DELETE", "/api/v3/order")[0].params["origClientOrderId"] == successor


async def test_spot_cancel_replace_of_a_partly_filled_order_replaces_only_the_rest(make_adapter: MakeAdapter,
                                                                                  fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    placed = await resting(adapter, "ex-replace-part")
    fake.exchange.fill("ex-replace-part", "0.004")
    before = booked(placed, VenueUpdate(ExecutionType.TRADE, OrderStatus.PARTIALLY_FILLED, fill=_fill("0.004"))).after
    update = await adapter.amend_order(before, Decimal("60100"), None)
    assert update.quantity == Decimal("0.01")                           # 0.004 filled before + 0.006 resting anew
    assert fake.sent("POST", "/api/v3/order/cancelReplace")[0].params["quantity"] == "0.006"
    after = booked(before, update).after
    fake.exchange.fill(after.client_order_id)
    filled = booked(after, await adapter.cancel_order(after))          # -2011, look-up: FILLED
    assert filled.after.status is OrderStatus.FILLED and filled.after.executed_qty == Decimal("0.01")
    assert filled.fill is not None and (filled.fill.quantity, filled.fill.price) == (Decimal("0.006"),
                                                                                      Decimal("60100"))


async def test_a_spot_cancel_replace_sent_again_finds_the_replacement(make_adapter: MakeAdapter,
                                                                      fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    before = await resting(adapter, "ex-replace-again")
    first = await adapter.amend_order(before, Decimal("60100"), None)
    again = await adapter.amend_order(before, Decimal("60100"), None)   # the first answer was lost
    assert again == first
    assert [r.code for r in fake.sent("POST", "/api/v3/order/cancelReplace")] == [None, -2022]
    assert len(fake.orders_for(first.client_order_id or "")) == 1


async def test_a_spot_cancel_replace_after_a_fill_is_refused_and_the_order_left(make_adapter: MakeAdapter,
                                                                               fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    before = await resting(adapter, "ex-replace-raced")
    fake.exchange.fill("ex-replace-raced", "0.004")                    # ONLY_NEW no longer holds
    with pytest.raises(AmendRejected, match="PARTIALLY_FILLED and unchanged") as refused:
        await adapter.amend_order(before, Decimal("60100"), None)
    assert refused.value.code == -2022
    assert fake.orders_for("ex-replace-raced")[0].status == "PARTIALLY_FILLED"


async def test_a_spot_replacement_refused_after_the_cancel_books_the_cancel(make_adapter: MakeAdapter,
                                                                           fake: FakeBinance) -> None:
    adapter = await make_adapter(binance_market="spot")
    before = await resting(adapter, "ex-replace-broke")
    fake.exchange.balances["spot"]["USDT"] = Decimal(100)              # the bigger replacement cannot be paid
    update = await adapter.amend_order(before, LIMIT, Decimal("0.02"))
    assert [(r.status, r.code) for r in fake.sent("POST", "/api/v3/order/cancelReplace")] == [(409, -2021)]
    change = booked(before, update)
    assert change.after.status is OrderStatus.CANCELED and change.released == Decimal("0.01")
    assert fake.orders_for(replacement_client_order_id("ex-replace-broke")) == []


def _fill(quantity: str) -> Fill:
    return Fill("t-1", Decimal(quantity), LIMIT)
