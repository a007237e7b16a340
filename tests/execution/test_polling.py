"""The polling loop's side in Redis: one poller (the lease), what a poll says booked through the one
entry point, an order the venue forgot ended LOST after N polls, rounds stretched to the weight share.
The venue is a stub answering what each test tells it (tests/exchange/binance/test_polling.py has
Binance's side); the orders are born as the pipeline makes them."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any, Sequence

import pytest
import redis.asyncio as aioredis

from app.config import Settings
from app.exchange.base import OrderPoll
from app.execution.lifecycle import OrderLifecycle
from app.execution.polling import LOST, VENUE, OrderPolling
from app.orders.machine import ExecutionType, Fill, Order, OrderStatus, VenueUpdate
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics
from tests.state.test_orders import Books
from tests.utils.venues import StubVenue

X, S = ExecutionType, OrderStatus


class Venue(StubVenue):
    """Answers each poll with ``answer(orders)``; records the orders it was asked about."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.answer: Any = lambda orders: OrderPoll(known=[o.intent_id for o in orders], weight=1)

    async def poll_orders(self, orders: Sequence[Order]) -> OrderPoll | None:
        self.asked.append([o.intent_id for o in orders])
        return self.answer(orders)


@pytest.fixture
def books(aredis: aioredis.Redis, settings: Settings) -> Books:
    return Books(aredis, settings)


def poller(aredis: aioredis.Redis, settings: Settings, venue: Venue, name: str = "r0",
           metrics: Metrics | None = None, **overrides: Any) -> OrderPolling:
    s = settings.model_copy(update={"execution_mode": "TESTNET", "consumer_name": name, **overrides})
    lifecycle = OrderLifecycle.build(s, aredis, Books(aredis, s).keys, Scripts.register(aredis), venue,
                                     metrics or Metrics())
    return OrderPolling(s, aredis, lifecycle.book._keys, lifecycle, venue, metrics or Metrics())


async def test_one_replica_polls_and_books_what_the_venue_says(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")
    venue = Venue()
    fill = Fill("1000:0.4", D("0.4"), D("100"))
    venue.answer = lambda orders: OrderPoll(
        updates={"o1": VenueUpdate(X.TRADE, S.PARTIALLY_FILLED, fill=fill, executed_qty=D("0.4"))},
        known=["o1"], weight=1, weight_limit_1m=1200)
    metrics = Metrics()
    first, second = poller(aredis, settings, venue, "r0", metrics), poller(aredis, settings, venue, "r1")
    [change] = await first.tick()
    assert await second.tick() == [] and venue.asked == [["o1"]], "the other replica does not poll"
    assert change.after.executed_qty == D("0.4") and await books.position() == 0.4
    assert (await books.reserved())[0] == pytest.approx(0.6)
    assert await first.tick() == [], "the same state polled again books nothing"
    assert metrics.order_poller._value.get() == 1


async def test_an_end_learnt_from_the_venue_says_so_and_releases_the_rest(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")
    venue = Venue()
    venue.answer = lambda orders: OrderPoll(
        updates={"o1": VenueUpdate(X.CANCELED, S.CANCELED, executed_qty=D("0.25"))}, known=["o1"])
    await poller(aredis, settings, venue).tick()
    [new, end] = await books.events("o1")
    assert (end["status"], end["reason"], end["executed_quantity"]) == ("CANCELED", VENUE, 0.25)
    assert await books.reserved() == (0, 0) and await books.position() == 0.25


async def test_an_order_that_changed_after_it_was_polled_waits_for_the_next_poll(aredis, settings,
                                                                                books: Books) -> None:
    await books.place("o1", quantity="1")
    polling = poller(aredis, settings, Venue())
    book = polling._orders.book
    polled = await book.open_orders()                           # what the poll read
    await book.update(["o1"], lambda o: VenueUpdate(X.TRADE, S.PARTIALLY_FILLED, fill=Fill("t", D("0.1"), D(100))))
    said = OrderPoll(updates={"o1": VenueUpdate(X.CANCELED, S.CANCELED, executed_qty=D(0))}, known=["o1"])
    assert await polling._book(polled, said) == [], "read at an older seq: not booked"
    assert (await book.get("o1")).status is S.PARTIALLY_FILLED


async def test_an_order_the_venue_forgot_is_lost_after_n_lookups_never_before(aredis, settings,
                                                                              books: Books) -> None:
    await books.place("o1", quantity="1")
    await books.place("o2", quantity="1")
    venue = Venue()
    venue.answer = lambda orders: OrderPoll(known=["o2"], unknown=["o1"], weight=2)
    metrics = Metrics()
    polling = poller(aredis, settings, venue, metrics=metrics, order_lost_after_lookups=3)
    assert await polling.tick() == [] and await polling.tick() == []
    assert int(await aredis.hget(books.keys.order_poll_misses, "o1")) == 2
    [lost] = await polling.tick()
    assert (lost.after.status, lost.update.reason) == (S.EXPIRED, LOST) and metrics.orders_lost._value.get() == 1
    assert (await books.events("o1"))[-1]["reason"] == LOST
    assert (await books.reserved())[0] == pytest.approx(1.0), "only o2's reservation is left"
    assert await aredis.hget(books.keys.order_poll_misses, "o1") is None
    assert await aredis.ttl(books.keys.order_poll_misses) > 0 or not await aredis.exists(books.keys.order_poll_misses)


async def test_a_miss_then_a_find_starts_the_count_again(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")
    venue = Venue()
    polling = poller(aredis, settings, venue, order_lost_after_lookups=2)
    venue.answer = lambda orders: OrderPoll(unknown=["o1"])
    await polling.tick()
    venue.answer = lambda orders: OrderPoll(known=["o1"])
    await polling.tick()
    venue.answer = lambda orders: OrderPoll(unknown=["o1"])
    assert await polling.tick() == [] and (await books.events("o1"))[-1]["status"] == "NEW"


async def test_rounds_stretch_to_keep_polling_within_its_share_of_the_weight(aredis, settings) -> None:
    venue = Venue()
    polling = poller(aredis, settings, venue, order_poll_interval_s=3.0, order_poll_max_weight_share=0.25)
    venue.answer = lambda orders: OrderPoll(weight=1, weight_limit_1m=1200)
    await polling.tick()
    assert polling._delay == 3.0                                  # 20 weight a minute of the 300 allowed
    venue.answer = lambda orders: OrderPoll(weight=60, weight_limit_1m=1200)
    await polling.tick()
    assert polling._delay == pytest.approx(12.0)                  # 60 a round: 5 rounds a minute
    assert await aredis.pttl(polling._lease._key) > 12_000, "the lease outlasts the longer round"


async def test_polling_stops_when_not_wanted(aredis, settings, books: Books) -> None:
    venue = Venue()
    polling = poller(aredis, settings, venue)
    polling.wanted = lambda: False
    assert await polling.tick() == [] and venue.asked == []
