"""Open orders in a real Redis: born by the ledger, changed atomically by order_apply.lua.

Each order here is born the way the pipeline makes it: the gate reserves its whole quantity, then
settle.lua keeps the reservation of what rests and writes its live record and first event.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.config import Settings, load_settings
from app.exchange.paper import PaperExchange
from app.exchange.pricing import build_price_source
from app.keys import Keys, reserved_field
from app.models.result import Result
from app.orders.machine import Change, ExecutionType, Fill, Order, OrderStatus, VenueUpdate, apply
from app.state.ledger import Ledger, Settlement
from app.state.orders import OrderBook, Wallet
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics
from tests.utils.reservations import sides

X, S = ExecutionType, OrderStatus
TTL = 3600


class Books:
    def __init__(self, redis: aioredis.Redis, settings: Settings, paper: bool = False) -> None:
        self.redis, self.settings = redis, settings
        self.keys = Keys.from_settings(settings)
        self.scripts = Scripts.register(redis)
        self.ledger = Ledger(self.keys, self.scripts, settings)
        self.wallet = None
        if paper:
            venue = PaperExchange(settings, redis, self.keys, self.scripts, build_price_source(settings), Metrics())
            self.wallet = Wallet(venue.script_keys(), venue.script_args(), venue.base_asset)

    def book(self) -> OrderBook:
        return OrderBook(self.redis, self.keys, self.scripts, stream_maxlen=1000, ttl_s=TTL, history=100,
                         wallet=self.wallet)

    async def place(self, intent_id: str, side: str = "BUY", quantity: str = "1", price: str = "100",
                    filled: str = "0", expire_at_ms: int = 0) -> Order:
        """Admission reserves the whole quantity; settlement releases what filled at once (it is a
        position now) and keeps the rest reserved while the order rests."""
        sign = 1 if side == "BUY" else -1
        await self.redis.hincrbyfloat(self.keys.reserved, reserved_field("BTCUSDT", side), float(quantity))
        executed = D(filled)
        order = Order(intent_id=intent_id, client_order_id=f"ex-{intent_id}", symbol="BTCUSDT", side=side,
                      order_type="LIMIT", quantity=D(quantity), price=D(price),
                      status=S.PARTIALLY_FILLED if executed else S.NEW, executed_qty=executed,
                      cum_quote=executed * D(price), created_ms=int(time.time() * 1000), expire_at_ms=expire_at_ms)
        fill = Fill("", executed, D(price)) if executed else None
        result = Result(intent_id=intent_id, intent_entry_id=f"{len(intent_id)}-{abs(hash(intent_id)) % 10**6}",
                        status=order.status.value, mode="PAPER", symbol="BTCUSDT", side=side,
                        executed_quantity=float(executed), avg_price=float(price) if executed else None, leverage=1,
                        received_at="2026-01-01T00:00:00.000Z", executed_at="2026-01-01T00:00:00.001Z",
                        latency_ms=1.0)
        settlement = Settlement(result, "open", record_order=True, release_qty=sign * float(executed),
                                fill_qty=sign * float(executed), fill_price=float(price), order=order,
                                order_event=(X.TRADE if fill else X.NEW, fill, None), now=time.time())
        [(kind, _)] = await self.ledger.settle([settlement], int(time.time() * 1000))
        assert kind == "OK"
        return order

    async def reserved(self) -> tuple[float, float]:
        """(BUY, SELL) reserved on BTCUSDT."""
        return sides(await self.redis.hgetall(self.keys.reserved))

    async def position(self) -> float:
        return float(await self.redis.hget(self.keys.position("BTCUSDT"), "qty") or 0)

    async def events(self, intent_id: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(f[b"data"]) for _, f in await self.redis.xrange(self.keys.order_stream)]
        return [e for e in found if intent_id is None or e["intent_id"] == intent_id]

    async def counters(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in (await self.redis.hgetall(self.keys.counters)).items()}

    async def indexed(self, intent_id: str, side: str = "BUY") -> tuple[bool, bool, bool]:
        """Whether the order is in the open set, its side's book and the expiries."""
        k = self.keys
        scores = [await self.redis.zscore(key, intent_id) for key in
                  (k.open_orders, k.book(f"BTCUSDT:{side}"), k.expiries)]
        return tuple(s is not None for s in scores)  # type: ignore[return-value]


@pytest.fixture
def books(aredis: aioredis.Redis, settings: Settings) -> Books:
    return Books(aredis, settings)


def trade(trade_id: str, quantity: str, price: str = "100") -> VenueUpdate:
    return VenueUpdate(X.TRADE, S.PARTIALLY_FILLED, fill=Fill(trade_id, D(quantity), D(price), D("0.01"), "USDT"))


def always(update: VenueUpdate | None) -> Any:
    return lambda _order: update


CANCEL = VenueUpdate(X.CANCELED, S.CANCELED, reason="CANCEL_INTENT", cause_intent_id="c-1")


# -- birth ----------------------------------------------------------------------------------------
async def test_a_resting_order_is_born_open_keeping_its_reservation(books: Books) -> None:
    await books.place("o1", expire_at_ms=int(time.time() * 1000) + 60_000)
    assert await books.reserved() == (1.0, 0) and await books.position() == 0.0
    assert await books.indexed("o1") == (True, True, True)
    [first] = await books.events("o1")
    assert (first["seq"], first["status"], first["execution_type"]) == (1, "NEW", "NEW")
    order = await books.book().get("o1")
    assert order is not None and order.status is S.NEW and order.seq == 1
    assert [o.intent_id for o in await books.book().open_orders()] == ["o1"]


async def test_an_order_born_partially_filled_keeps_only_its_remainder_reserved(books: Books) -> None:
    await books.place("o1", side="SELL", quantity="2", filled="0.5")
    assert await books.reserved() == (0, 1.5) and await books.position() == -0.5
    order = await books.book().get("o1")
    assert order is not None and order.status is S.PARTIALLY_FILLED and order.remaining == D("1.5")


# -- fills, cancels, the books ------------------------------------------------------------------
async def test_fills_move_the_reservation_to_the_position_and_a_final_fill_closes_the_order(books: Books) -> None:
    await books.place("o1", expire_at_ms=int(time.time() * 1000) + 60_000)
    book = books.book()
    [change] = await book.update(["o1"], always(trade("q1", "0.4")))
    assert change.after.status is S.PARTIALLY_FILLED
    assert await books.reserved() == pytest.approx((0.6, 0)) and await books.position() == pytest.approx(0.4)
    live = await book.get("o1")
    assert live == change.after and live.trades == {"q1": D("0.4")}
    assert await books.indexed("o1") == (True, True, True)
    assert await books.redis.ttl(books.keys.live("o1")) == -1  # open: no TTL
    [booked] = [json.loads(t) for t in await books.redis.lrange(books.keys.trades, 0, -1)]
    assert (booked["trade_id"], booked["quantity"], booked["price"], booked["intent_id"]) == ("q1", 0.4, 100.0, "o1")

    [last] = await book.update(["o1"], always(trade("q2", "0.6", "98")))
    assert last.after.status is S.FILLED
    assert await books.reserved() == (0, 0) and await books.position() == pytest.approx(1.0)
    position = await books.redis.hgetall(books.keys.position("BTCUSDT"))
    assert float(position[b"avg_entry"]) == pytest.approx(98.8) and float(position[b"fees"]) == pytest.approx(0.02)
    assert await books.indexed("o1") == (False, False, False)
    assert 0 < await books.redis.ttl(books.keys.live("o1")) <= TTL
    assert [(e["seq"], e["status"]) for e in await books.events("o1")] == \
        [(1, "NEW"), (2, "PARTIALLY_FILLED"), (3, "FILLED")]
    assert (await books.counters())["orders_filled"] == 1
    assert await book.count_open() == 0 and await book.open_orders() == []
    assert await book.update(["o1"], always(CANCEL)) == []  # final: nothing more


async def test_a_cancel_releases_the_rest_and_reservations_end_at_zero(books: Books) -> None:
    await books.place("b", quantity="1")
    await books.place("s", side="SELL", quantity="2", price="110", expire_at_ms=int(time.time() * 1000) + 60_000)
    assert await books.reserved() == (1.0, 2.0), "an open BUY and an open SELL are never netted"
    book = books.book()
    await book.update(["s"], always(trade("q1", "0.5", "110")))
    assert await books.reserved() == (1.0, 1.5) and await books.position() == pytest.approx(-0.5)
    changes = await book.update(["b", "s"], always(CANCEL))
    assert {c.after.intent_id: c.released for c in changes} == {"b": D("1"), "s": D("1.5")}
    assert await books.reserved() == (0, 0) and await books.position() == pytest.approx(-0.5)
    assert await books.indexed("s", "SELL") == (False, False, False) and await books.indexed("b") == (False,) * 3
    [*_, canceled] = await books.events("s")
    assert (canceled["status"], canceled["reason"], canceled["cause_intent_id"], canceled["executed_quantity"]) == \
        ("CANCELED", "CANCEL_INTENT", "c-1", 0.5)
    assert (await books.counters())["orders_canceled"] == 2


@pytest.mark.parametrize("kind,counter", [(X.EXPIRED, "orders_expired"), (X.REJECTED, "orders_rejected")])
async def test_every_end_counts_and_leaves_the_books(books: Books, kind: ExecutionType, counter: str) -> None:
    await books.place("o1", expire_at_ms=1)
    book = books.book()
    assert await book.due(int(time.time() * 1000)) == ["o1"]
    [change] = await book.update(["o1"], always(VenueUpdate(kind, S(kind.value), reason="EXPIRE_AFTER")))
    assert change.final and await books.reserved() == (0, 0)
    assert await book.due(int(time.time() * 1000)) == [] and await books.indexed("o1") == (False,) * 3
    assert (await books.counters())[counter] == 1


async def test_a_cancel_the_fill_won_books_the_fill_and_ends_filled(books: Books) -> None:
    await books.place("o1", quantity="1")
    said = VenueUpdate(X.CANCELED, S.CANCELED, executed_qty=D("1"), reason="KILL_SWITCH")
    [change] = await books.book().update(["o1"], always(said))
    assert change.after.status is S.FILLED
    assert await books.position() == pytest.approx(1.0) and await books.reserved() == (0, 0)
    assert (await books.counters())["orders_filled"] == 1


async def test_an_amend_moves_the_book_price_and_the_reservation(books: Books) -> None:
    await books.place("o1", quantity="1", price="100")
    book = books.book()
    await book.update(["o1"], always(VenueUpdate(X.AMENDED, S.NEW, price=D("95"), quantity=D("1.5"))))
    assert await books.reserved() == (1.5, 0)
    assert await books.redis.zscore(books.keys.book("BTCUSDT:BUY"), "o1") == 95.0
    assert await book.crossing("BTCUSDT", D("94"), D("95")) == ["o1"]
    assert await book.crossing("BTCUSDT", D("94"), D("95.1")) == []
    await book.update(["o1"], always(VenueUpdate(X.AMENDED, S.NEW, quantity=D("0.5"))))
    assert await books.reserved() == (0.5, 0)


async def test_crossing_finds_buys_at_or_above_the_ask_and_sells_at_or_below_the_bid(books: Books) -> None:
    await books.place("b100", price="100")
    await books.place("b99", price="99")
    await books.place("s101", side="SELL", price="101")
    await books.place("s102", side="SELL", price="102")
    book = books.book()
    assert sorted(await book.crossing("BTCUSDT", D("101"), D("100"))) == ["b100", "s101"]
    assert await book.crossing("BTCUSDT", D("100.5"), D("100.5")) == []
    assert sorted(await book.crossing("BTCUSDT", D("103"), D("98"))) == ["b100", "b99", "s101", "s102"]


# -- exactly once -------------------------------------------------------------------------------
async def test_the_same_trade_twice_is_booked_once(books: Books) -> None:
    await books.place("o1")
    book = books.book()
    assert len(await book.update(["o1"], always(trade("q1", "0.4")))) == 1
    assert await book.update(["o1"], always(trade("q1", "0.4"))) == []
    assert await books.position() == pytest.approx(0.4) and len(await books.events("o1")) == 2


async def test_the_script_refuses_a_trade_already_booked_even_at_the_current_seq(books: Books) -> None:
    """A change computed without knowing of a booked trade (its seq matches) is not written."""
    await books.place("o1")
    book = books.book()
    await book.update(["o1"], always(trade("q1", "0.4")))
    current = await book.get("o1")
    assert current is not None
    blind = replace(current, trades={})
    change = apply(blind, trade("q1", "0.4"))
    assert change is not None and change.before.seq == current.seq
    assert await book.write([Change(current, change.after, change.update, fill=change.fill)]) == [False]
    assert await books.position() == pytest.approx(0.4) and len(await books.events("o1")) == 2


async def test_replicas_racing_on_one_fill_book_it_once(aredis: aioredis.Redis, settings: Settings) -> None:
    books = Books(aredis, settings)
    await books.place("o1")
    replicas = [Books(aredis, settings).book() for _ in range(3)]  # each with its own script objects
    written = await asyncio.gather(*(b.update(["o1"], always(trade("q1", "0.4"))) for b in replicas))
    assert sorted(len(w) for w in written) == [0, 0, 1]
    assert [e["seq"] for e in await books.events("o1")] == [1, 2]
    assert await books.position() == pytest.approx(0.4) and await books.reserved() == (0.6, 0)
    assert await aredis.llen(books.keys.trades) == 1


async def test_a_change_written_between_read_and_write_makes_the_other_recompute(books: Books) -> None:
    """The first decision sees seq 1; before its write lands, another replica books q1. The write
    is refused (stale seq) and the decision is made again on the fresh order."""
    await books.place("o1")
    mine, other = books.book(), books.book()
    seen: list[int] = []

    async def decide(order: Order) -> VenueUpdate:
        seen.append(order.seq)
        if len(seen) == 1:
            await other.update(["o1"], always(trade("q1", "0.4")))
        return trade("q2", "0.5")

    [change] = await mine.update(["o1"], decide)
    assert seen == [1, 2] and change.before.seq == 2 and change.after.executed_qty == D("0.9")
    assert [(e["seq"], e["trade_id"]) for e in await books.events("o1")] == [(1, None), (2, "q1"), (3, "q2")]
    assert await books.position() == pytest.approx(0.9) and await books.reserved() == (0.1, 0)


async def test_a_fill_racing_a_cancel_one_wins_and_the_books_agree(books: Books) -> None:
    for i in range(20):
        await books.place(f"o{i}")
    fill_book, cancel_book = books.book(), books.book()
    ids = [f"o{i}" for i in range(20)]
    await asyncio.gather(fill_book.update(ids, always(trade("q1", "1"))), cancel_book.update(ids, always(CANCEL)))
    orders = await fill_book.load(ids)
    filled = sum(1 for o in orders if o is not None and o.status is S.FILLED)
    assert all(o is not None and o.status in (S.FILLED, S.CANCELED) for o in orders)
    assert await books.position() == pytest.approx(filled) and await books.reserved() == (0, 0)
    for i in ids:
        assert [e["seq"] for e in await books.events(i)] == [1, 2]


# -- the PAPER wallet ---------------------------------------------------------------------------
@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_a_later_fill_moves_the_paper_wallet(aredis: aioredis.Redis, redis_url: str, market: str) -> None:
    settings = load_settings({}, redis_url=redis_url, binance_market=market, paper_balance_usd=10_000)
    books = Books(aredis, settings, paper=True)
    await books.place("o1", quantity="0.5", price="100")
    await books.book().update(["o1"], always(trade("q1", "0.4", "100")))  # fee 0.01
    wallet = {k.decode(): float(v) for k, v in (await aredis.hgetall(books.keys.paper_wallet)).items()}
    if market == "usdm":
        assert wallet["balance"] == pytest.approx(10_000 - 0.01) and wallet["locked"] == pytest.approx(40.0)
        assert wallet["q:BTCUSDT"] == pytest.approx(0.4) and wallet["e:BTCUSDT"] == pytest.approx(100.0)
    else:
        assert wallet["balance"] == pytest.approx(10_000 - 40 - 0.01) and wallet["b:BTC"] == pytest.approx(0.4)
