"""Reconciliation's loop against the test Redis: one reconciler (the lease), positions follow Binance
through external trades, drift shows in /health's status and the metric and sets the trading state
as RECONCILE_ON_DRIFT says. The venue is a stub answering the account each test gives it
(tests/integration/test_binance_reconciliation.py runs the whole service against the fake Binance)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.config import Mode, OnDrift, Settings
from app.exchange.binance.drift import Account, VenueOrder, VenuePosition
from app.execution.reconciliation import Reconciliation, status
from app.models.trading import TradingState
from app.state.store import Store
from app.telemetry.metrics import Metrics
from tests.state.test_orders import Books
from tests.utils.venues import StubVenue


class Venue(StubVenue):
    def __init__(self, account: Account | None = None) -> None:
        self.answer = account or Account((), {})
        self.asked = 0

    async def account(self) -> Account | None:
        self.asked += 1
        return self.answer


@pytest.fixture
def books(aredis: aioredis.Redis, settings: Settings) -> Books:
    return Books(aredis, settings)


def reconciler(aredis: aioredis.Redis, settings: Settings, venue: Venue, name: str = "r0",
               metrics: Metrics | None = None, **overrides: Any) -> Reconciliation:
    s = settings.model_copy(update={"execution_mode": Mode.TESTNET, "consumer_name": name, **overrides})
    b = Books(aredis, s)
    return Reconciliation(s, aredis, b.keys, b.book(), venue, Store(aredis, b.keys), metrics or Metrics())


def holding(qty: str, price: str = "100") -> Account:
    return Account((), {"BTCUSDT": VenuePosition(D(qty), D(price))})


async def trades(aredis: aioredis.Redis, books: Books) -> list[dict[str, Any]]:
    return [json.loads(t) for t in await aredis.lrange(books.keys.trades, 0, -1)]


async def test_equal_books_are_no_drift(aredis, settings, books: Books) -> None:
    drift = await reconciler(aredis, settings, Venue()).tick()
    assert drift is not None and not drift.found
    assert await status(aredis, books.keys, settings) == (True, "no drift (last round 0s ago)")
    assert await trades(aredis, books) == []


async def test_a_position_at_binance_only_is_booked_as_an_external_trade(aredis, settings, books: Books) -> None:
    metrics = Metrics()
    loop = reconciler(aredis, settings, Venue(holding("0.5", "101")), metrics=metrics)
    drift = await loop.tick()
    assert drift is not None and [p.symbol for p in drift.positions] == ["BTCUSDT"]
    assert await books.position() == 0.5
    assert float(await aredis.hget(books.keys.risk_positions, "BTCUSDT")) == 0.5
    [trade] = await trades(aredis, books)
    assert trade["external"] is True and (trade["side"], trade["quantity"], trade["price"]) == ("BUY", 0.5, 101.0)
    assert metrics.reconciliation_drift.labels("position")._value.get() == 1
    assert metrics.external_adjustments._value.get() == 1
    ok, message = await status(aredis, books.keys, settings)
    assert not ok and "BTCUSDT booked 0 Binance 0.5" in message

    again = await loop.tick()
    assert again is not None and not again.found, "the books follow Binance now"
    assert len(await trades(aredis, books)) == 1
    assert metrics.reconciliation_drift.labels("position")._value.get() == 0
    assert not (await status(aredis, books.keys, settings))[0], "DEGRADED holds for a few intervals"


async def test_a_liquidation_closes_the_booked_position(aredis, settings, books: Books) -> None:
    venue = Venue(holding("1"))
    loop = reconciler(aredis, settings, venue)
    await loop.tick()
    venue.answer = Account((), {})  # positionRisk lists no position: Binance closed it
    drift = await loop.tick()
    assert drift is not None and drift.positions[0].difference == D(-1)
    assert await books.position() == 0
    assert (await trades(aredis, books))[0]["side"] == "SELL"


async def test_an_order_the_service_did_not_place_is_drift(aredis, settings, books: Books) -> None:
    web = VenueOrder("BTCUSDT", "web_123", "SELL", D("0.2"), D(0))
    drift = await reconciler(aredis, settings, Venue(Account((web,), {}))).tick()
    assert drift is not None and drift.found and drift.external_orders == (web,)
    assert "web_123 (other) SELL 0.2 BTCUSDT" in (await status(aredis, books.keys, settings))[1]


async def test_a_symbol_with_an_order_of_the_service_in_flight_waits(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")  # resting: reserved, open
    venue = Venue(Account((VenueOrder("BTCUSDT", "ex-o1", "BUY", D(1), D("0.3")),), holding("0.3").positions))
    drift = await reconciler(aredis, settings, venue).tick()
    assert drift is not None and drift.unsettled == ("BTCUSDT",) and not drift.found
    assert await books.position() == 0 and await trades(aredis, books) == []


async def test_an_order_open_only_in_the_books_is_left_to_polling(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")
    drift = await reconciler(aredis, settings, Venue()).tick()
    assert drift is not None and drift.missing_orders == ("ex-o1",) and not drift.found
    assert (await status(aredis, books.keys, settings))[0]


async def test_one_replica_reconciles(aredis, settings, books: Books) -> None:
    venue = Venue(holding("0.5"))
    assert await reconciler(aredis, settings, venue, "r0").tick() is not None
    assert await reconciler(aredis, settings, venue, "r1").tick() is None
    assert venue.asked == 1 and await books.position() == 0.5


async def test_a_position_moved_while_compared_is_not_booked(aredis, settings, books: Books) -> None:
    venue = Venue(holding("0.5"))
    loop = reconciler(aredis, settings, venue)

    async def fill_meanwhile() -> Account:
        await aredis.hset(books.keys.risk_positions, "BTCUSDT", "0.2000000000")
        return venue.answer
    venue.account = fill_meanwhile  # type: ignore[method-assign]
    drift = await loop.tick()
    assert drift is not None and drift.found
    assert await trades(aredis, books) == [] and await books.position() == 0


@pytest.mark.parametrize("action, before, after", [
    ("alert", TradingState.ACTIVE, TradingState.ACTIVE),
    ("reduce", TradingState.ACTIVE, TradingState.REDUCING),
    ("halt", TradingState.ACTIVE, TradingState.HALTED),
    ("halt", TradingState.REDUCING, TradingState.HALTED),
    ("reduce", TradingState.HALTED, TradingState.HALTED),
])
async def test_drift_acts_as_reconcile_on_drift_says(aredis, settings, books: Books, action: str,
                                                    before: TradingState, after: TradingState) -> None:
    store = Store(aredis, books.keys)
    await store.set_trading_state(before)
    await reconciler(aredis, settings, Venue(holding("1")), reconcile_on_drift=OnDrift(action)).tick()
    assert await store.trading_state() is after


async def test_no_drift_changes_no_trading_state(aredis, settings, books: Books) -> None:
    store = Store(aredis, books.keys)
    await reconciler(aredis, settings, Venue(), reconcile_on_drift=OnDrift.HALT).tick()
    assert await store.trading_state() is TradingState.ACTIVE


async def test_within_the_tolerance_nothing_is_booked(aredis, settings, books: Books) -> None:
    drift = await reconciler(aredis, settings, Venue(holding("0.001")), reconcile_tolerance_qty=0.01).tick()
    assert drift is not None and not drift.found and await trades(aredis, books) == []


async def test_the_status_expires_and_says_so_before_the_first_round(aredis, settings, books: Books) -> None:
    assert await status(aredis, books.keys, settings) == (True, "no reconciliation round yet")
    await reconciler(aredis, settings, Venue()).tick()
    assert 0 < await aredis.ttl(books.keys.reconcile_status) <= settings.reconcile_interval_s * 10
