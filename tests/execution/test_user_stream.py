"""The user-data stream runner's side in Redis (app/execution/user_stream.py): one holder (the lease),
a catch-up poll after each connect, each pushed change booked once through the one entry point,
polling resting only while the stream is live. The stream is a stub fed by each test (Binance's side:
tests/exchange/binance/test_user_stream.py; the whole, with processes: tests/integration)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any, Callable

import pytest
import redis.asyncio as aioredis

from app.config import Market, Settings
from app.exchange.binance.stream_events import parse, venue_update
from app.exchange.base import AccountChange, PushedChange, StreamClosed, UserStream
from app.execution.lifecycle import OrderLifecycle
from app.execution.polling import OrderPolling
from app.execution.user_stream import UserStreamRunner
from app.orders.machine import OrderStatus
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics
from tests.execution.test_polling import Venue
from tests.state.test_orders import Books

END = object()


class Stream(UserStream):
    def __init__(self) -> None:
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.connects = self.keep_alives = self.closes = 0

    async def connect(self) -> None:
        self.connects += 1

    async def keep_alive(self) -> None:
        self.keep_alives += 1

    async def receive(self, timeout_s: float) -> list[PushedChange | AccountChange]:
        try:
            item = await asyncio.wait_for(self.messages.get(), timeout_s)
        except asyncio.TimeoutError:
            return []
        if item is END:
            raise StreamClosed("dropped")
        return item

    async def close(self) -> None:
        self.closes += 1


def trade(coid: str, trade_id: str, qty: str, cumulative: str) -> list[PushedChange]:
    """What Binance's client makes of an ORDER_TRADE_UPDATE fill (app/exchange/binance/stream_events.py)."""
    event = parse({"e": "ORDER_TRADE_UPDATE", "E": 1, "o": {"s": "BTCUSDT", "c": coid, "x": "TRADE",
                                                           "X": "PARTIALLY_FILLED", "i": 1, "q": "1", "l": qty,
                                                           "z": cumulative, "L": "100", "t": trade_id}})
    return [PushedChange(coid, lambda order: venue_update(event, order, Market.USDM, "BTC", "USDT")[0])]


@pytest.fixture
def books(aredis: aioredis.Redis, settings: Settings) -> Books:
    return Books(aredis, settings)


def runner(aredis: aioredis.Redis, settings: Settings, stream: Stream, name: str = "r0",
           metrics: Metrics | None = None, clock: Callable[[], float] | None = None,
           **overrides: Any) -> tuple[UserStreamRunner, Venue]:
    s = settings.model_copy(update={"execution_mode": "TESTNET", "consumer_name": name, **overrides})
    venue, metrics = Venue(), metrics or Metrics()
    lifecycle = OrderLifecycle.build(s, aredis, Books(aredis, s).keys, Scripts.register(aredis), venue, metrics)
    polling = OrderPolling(s, aredis, lifecycle.book._keys, lifecycle, venue, metrics)
    made = UserStreamRunner(s, aredis, lifecycle.book._keys, lifecycle, polling, stream, metrics,
                            **({"clock": clock} if clock else {}))
    polling.wanted = made.polling_wanted
    return made, venue


async def until(check: Callable[[], Any], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_pushed_fills_are_booked_once_in_any_order_and_polling_rests(aredis, settings, books: Books) -> None:
    await books.place("o1", quantity="1")
    stream, metrics, stopping = Stream(), Metrics(), asyncio.Event()
    made, venue = runner(aredis, settings, stream, metrics=metrics)
    assert await made.polling_wanted()
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: venue.asked == [["o1"]])                     # the catch-up round after connecting
    await until(lambda: _not(made.polling_wanted()))
    for message in (trade("ex-o1", "t2", "0.3", "0.7"), trade("ex-o1", "t1", "0.4", "0.4"),
                    trade("ex-o1", "t2", "0.3", "0.7"), trade("web_unknown", "t9", "1", "1")):
        await stream.messages.put(message)
    await until(lambda: metrics.user_stream_events.labels("unknown_order")._value.get() == 1)
    order = await books.book().get("o1")
    assert order.executed_qty == D("0.7") and await books.position() == pytest.approx(0.7)
    assert metrics.user_stream_events.labels("booked")._value.get() == 1
    assert metrics.user_stream_events.labels("unchanged")._value.get() == 2
    assert metrics.user_stream_holder._value.get() == 1
    await stream.messages.put(END)                                   # dropped: polling wanted again
    await until(lambda: made.polling_wanted())
    await until(lambda: stream.connects == 2)                        # back after a backoff, caught up again
    await until(lambda: len(venue.asked) == 2)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert stream.closes == 2 and metrics.user_stream_holder._value.get() == 0
    assert await made.polling_wanted()


async def _not(result: Any) -> bool:
    return not await result


async def test_one_replica_holds_the_stream_and_another_takes_over(aredis, settings, books: Books) -> None:
    first, second = Stream(), Stream()
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    a, _ = runner(aredis, settings, first, "r0")
    b, _ = runner(aredis, settings, second, "r1")
    tasks = [asyncio.create_task(a.run(stop_first))]
    await until(lambda: first.connects == 1)
    tasks.append(asyncio.create_task(b.run(stop_second)))
    await asyncio.sleep(1.5)
    assert second.connects == 0, "the lease keeps the second replica off"
    stop_first.set()                                                 # the holder leaves (and gives the lease back)
    await asyncio.wait_for(tasks[0], 5)
    await until(lambda: second.connects == 1, timeout=5)
    stop_second.set()
    await asyncio.wait_for(tasks[1], 5)


async def test_keep_alive_and_renewal_follow_the_settings(aredis, settings, books: Books) -> None:
    now = [0.0]
    stream, stopping = Stream(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, clock=lambda: now[0], user_stream_keepalive_s=10.0,
                     user_stream_reconnect_s=100.0)
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: stream.connects == 1)
    now[0] = 11.0
    await until(lambda: stream.keep_alives == 1)
    now[0] = 101.0
    await until(lambda: stream.connects == 2)                        # renewed, not failed: no backoff
    assert stream.closes == 1
    stopping.set()
    await asyncio.wait_for(task, 5)


async def test_silence_longer_than_the_setting_lets_polling_resume(aredis, settings, books: Books) -> None:
    stream, stopping = Stream(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, user_stream_silence_s=1.0)
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: _not(made.polling_wanted()))
    await until(lambda: made.polling_wanted(), timeout=3)            # nothing came for a second
    await books.place("o2", quantity="1")
    await stream.messages.put(trade("ex-o2", "t1", "0.5", "0.5"))
    await until(lambda: _not(made.polling_wanted()))                 # an event: live again
    stopping.set()
    await asyncio.wait_for(task, 5)


def cancel(coid: str) -> list[PushedChange]:
    event = parse({"e": "ORDER_TRADE_UPDATE", "E": 1, "o": {"s": "BTCUSDT", "c": coid, "x": "CANCELED",
                                                           "X": "CANCELED", "i": 1, "q": "1", "z": "0"}})
    return [PushedChange(coid, lambda order: venue_update(event, order, Market.USDM, "BTC", "USDT")[0],
                         ends_order=True)]


async def test_a_cancel_waits_for_the_services_own_write_then_is_booked_as_the_venues(aredis, settings,
                                                                                      books: Books) -> None:
    await books.place("o3", quantity="1")
    now = [0.0]
    stream, stopping = Stream(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, clock=lambda: now[0])
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: _not(made.polling_wanted()))
    await stream.messages.put(cancel("ex-o3"))
    await asyncio.sleep(1.5)
    assert (await books.book().get("o3")).status is OrderStatus.NEW, "left to the service's own cancel for a while"
    now[0] = 4.0
    await until(lambda: _status(books, "o3", OrderStatus.CANCELED))
    assert await books.reserved() == (0.0, 0.0)
    stopping.set()
    await asyncio.wait_for(task, 5)


async def _status(books: Books, intent_id: str, status: OrderStatus) -> bool:
    return (await books.book().get(intent_id)).status is status


async def test_an_event_that_comes_before_the_orders_record_is_tried_again(aredis, settings, books: Books) -> None:
    now = [0.0]
    stream, metrics, stopping = Stream(), Metrics(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, metrics=metrics, clock=lambda: now[0])
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: _not(made.polling_wanted()))
    await stream.messages.put(trade("ex-o4", "t1", "1", "1"))       # the fill, before the record exists
    await stream.messages.put(trade("web_other", "t2", "1", "1"))  # never the service's: counted at once
    await asyncio.sleep(0.3)
    await books.place("o4", quantity="1")
    now[0] = 2.0
    await until(lambda: _status(books, "o4", OrderStatus.FILLED))
    await until(lambda: metrics.user_stream_events.labels("unknown_order")._value.get() == 1)
    stopping.set()
    await asyncio.wait_for(task, 5)


async def test_an_event_for_an_order_of_ours_waits_for_its_record_as_long_as_an_order_may_take(
        aredis, settings, books: Books) -> None:
    now = [0.0]
    stream, metrics, stopping = Stream(), Metrics(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, metrics=metrics, clock=lambda: now[0])
    task = asyncio.create_task(made.run(stopping))
    await until(lambda: _not(made.polling_wanted()))
    await stream.messages.put(trade("ex-o5", "t1", "1", "1"))       # its answer still on the way (30 s)
    for second in range(1, 31, 3):
        now[0] = float(second)
        await asyncio.sleep(0.05)
    await books.place("o5", quantity="1")                            # the record, 30 s after the fill
    now[0] = 32.0
    await until(lambda: _status(books, "o5", OrderStatus.FILLED))
    assert metrics.user_stream_events.labels("unknown_order")._value.get() == 0
    stopping.set()
    await asyncio.wait_for(task, 5)


async def test_a_funding_fee_is_booked_once_on_its_position_and_balances_follow(aredis, settings, books: Books) -> None:
    await books.place("o3", quantity="1")
    stream, metrics, stopping = Stream(), Metrics(), asyncio.Event()
    made, _ = runner(aredis, settings, stream, metrics=metrics)
    task = asyncio.create_task(made.run(stopping))
    await stream.messages.put(trade("ex-o3", "t1", "1", "1"))
    await until(lambda: books.position())
    fee = AccountChange(1_700_000_000_000, "FUNDING_FEE", (("USDT", D("99.75")),), (("USDT", D("-0.25")),), "BTCUSDT")
    for message in ([fee], [fee], [AccountChange(1_700_000_000_001, "FUNDING_FEE", (("USDT", D("99.85")),),
                                                 (("USDT", D("0.1")),))]):  # crossed: no symbol
        await stream.messages.put(message)
    await until(lambda: metrics.funding_fees.labels("USDT", "received")._value.get() == pytest.approx(0.1))
    position = await aredis.hgetall(books.keys.position("BTCUSDT"))
    assert float(position[b"funding"]) == -0.25 and float(position[b"realized_pnl"]) == -0.25  # once, not twice
    assert metrics.funding_fees.labels("USDT", "paid")._value.get() == pytest.approx(0.25)
    assert metrics.balance.labels("USDT")._value.get() == pytest.approx(99.85)
    balances = await aredis.hgetall(books.keys.binance_balances)
    assert balances == {b"USDT": b"99.85", b"updated_ms": b"1700000000001"}
    assert 0 < await aredis.pttl(books.keys.funding_seen("1700000000000:USDT:BTCUSDT")) <= 86_400_000
    stopping.set()
    await asyncio.wait_for(task, 5)
