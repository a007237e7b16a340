"""Position arithmetic (library.lua, run inside settle.lua) against hand-computed numbers in a real Redis.

Each fill is settled through app/state/ledger.py exactly as the pipeline does, then the position hash
is read back: quantity, average entry, realized PnL, fees, trade count.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import pytest
import redis.asyncio as aioredis

from app.config import Settings
from app.keys import Keys
from app.models.result import Result
from app.state.ledger import Ledger, Settlement
from app.state.scripts import Scripts
from tests.utils.reservations import sides

BTC = "BTCUSDT"
_entries: Iterator[int] = itertools.count(1)


class Book:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys.from_settings(settings)
        self.ledger = Ledger(self.keys, Scripts.register(redis), settings)

    async def fill(self, side: str, qty: float, price: float, fee: float = 0.0, symbol: str = BTC,
                   release: float = 0.0, entry_id: str | None = None) -> tuple[str, str]:
        entry_id = entry_id or f"{next(_entries)}-0"
        result = Result(intent_id=f"i-{entry_id}", intent_entry_id=entry_id, status="FILLED", mode="PAPER",
                        symbol=symbol, side=side, executed_quantity=qty, avg_price=price, fee=fee, leverage=3,
                        received_at="2026-01-01T00:00:00.000Z", executed_at="2026-01-01T00:00:00.001Z",
                        latency_ms=1.0)
        signed = qty if side == "BUY" else -qty
        settlement = Settlement(result, "filled", record_order=True, release_qty=release, fill_qty=signed,
                                fill_price=price, trade={"symbol": symbol, "quantity": qty, "price": price})
        [outcome] = await self.ledger.settle([settlement], now_ms=1_767_225_600_000)
        return outcome

    async def position(self, symbol: str = BTC) -> dict[str, float]:
        raw = await self.redis.hgetall(self.keys.position(symbol))
        return {k.decode(): float(v) for k, v in raw.items() if k.decode() != "symbol"}


@pytest.fixture
def book(aredis: aioredis.Redis, settings: Settings) -> Book:
    return Book(aredis, settings)


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


async def expect(book: Book, qty: float, entry: float, realized: float, symbol: str = BTC) -> dict[str, float]:
    pos = await book.position(symbol)
    assert (pos["qty"], pos["avg_entry"], pos["realized_pnl"]) == (approx(qty), approx(entry), approx(realized))
    assert pos["notional_usd"] == approx(qty * entry)
    return pos


async def test_open(book: Book) -> None:
    assert (await book.fill("BUY", 0.01, 100_000, fee=0.4))[0] == "OK"
    pos = await expect(book, 0.01, 100_000, 0)
    assert (pos["fees"], pos["trades"], pos["leverage"], pos["updated_ms"]) == (approx(0.4), 1, 3, 1_767_225_600_000)
    assert float(await book.redis.hget(book.keys.risk_positions, BTC)) == approx(0.01)
    assert float(await book.redis.hget(book.keys.marks, BTC)) == 100_000
    assert await book.redis.smembers(book.keys.positions_index) == {BTC.encode()}


async def test_add_averages_the_entry(book: Book) -> None:
    await book.fill("BUY", 0.01, 100_000)
    await book.fill("BUY", 0.03, 104_000)
    # (0.01 x 100,000 + 0.03 x 104,000) / 0.04 = 4,120 / 0.04 = 103,000
    await expect(book, 0.04, 103_000, 0)


async def test_partial_close_realizes_pnl_and_keeps_the_entry(book: Book) -> None:
    await book.fill("BUY", 0.01, 100_000)
    await book.fill("BUY", 0.03, 104_000)
    await book.fill("SELL", 0.01, 110_000)
    # 0.01 x (110,000 - 103,000) = 70
    await expect(book, 0.03, 103_000, 70)


async def test_full_close_zeroes_the_entry(book: Book) -> None:
    await book.fill("BUY", 0.04, 103_000)
    await book.fill("SELL", 0.01, 110_000)
    await book.fill("SELL", 0.03, 100_000)
    # 70 + 0.03 x (100,000 - 103,000) = 70 - 90 = -20
    pos = await expect(book, 0, 0, -20)
    assert pos["trades"] == 3
    assert float(await book.redis.hget(book.keys.risk_positions, BTC)) == 0


async def test_flip_long_to_short_enters_at_the_fill_price(book: Book) -> None:
    await book.fill("BUY", 0.01, 100_000)
    await book.fill("SELL", 0.03, 90_000)
    # closes 0.01 at a 10,000 loss per BTC (-100), opens 0.02 short at 90,000
    await expect(book, -0.02, 90_000, -100)


async def test_flip_short_to_long(book: Book) -> None:
    await book.fill("SELL", 1, 3_000, symbol="ETHUSDT")
    await book.fill("BUY", 3, 2_800, symbol="ETHUSDT")
    # the short gains 200 on 1 ETH; 2 ETH long at 2,800
    await expect(book, 2, 2_800, 200, "ETHUSDT")


async def test_short_side(book: Book) -> None:
    await book.fill("SELL", 0.02, 100_000)
    await expect(book, -0.02, 100_000, 0)
    await book.fill("SELL", 0.02, 110_000)
    # (0.02 x 100,000 + 0.02 x 110,000) / 0.04 = 105,000
    await expect(book, -0.04, 105_000, 0)
    await book.fill("BUY", 0.01, 95_000)
    # short covered lower: 0.01 x (105,000 - 95,000) = +100
    await expect(book, -0.03, 105_000, 100)
    await book.fill("BUY", 0.03, 100_000)
    # 100 + 0.03 x 5,000 = 250
    await expect(book, 0, 0, 250)


async def test_quantities_that_do_not_sum_exactly_in_binary_still_close_to_zero(book: Book) -> None:
    for _ in range(3):
        await book.fill("BUY", 0.1, 100)
    await book.fill("SELL", 0.3, 100)
    pos = await book.position()
    assert pos["qty"] == 0 and pos["avg_entry"] == 0


async def test_fees_and_trades_accumulate(book: Book) -> None:
    await book.fill("BUY", 0.01, 100_000, fee=0.4)
    await book.fill("SELL", 0.01, 100_000, fee=0.4)
    pos = await book.position()
    assert (pos["fees"], pos["trades"]) == (approx(0.8), 2)


async def test_symbols_are_independent(book: Book) -> None:
    await book.fill("BUY", 0.01, 100_000)
    await book.fill("SELL", 2, 3_500, symbol="ETHUSDT")
    await expect(book, 0.01, 100_000, 0)
    await expect(book, -2, 3_500, 0, "ETHUSDT")
    assert await book.redis.smembers(book.keys.positions_index) == {b"BTCUSDT", b"ETHUSDT"}


async def test_settlement_releases_the_reservation_of_its_side(book: Book) -> None:
    await book.redis.hset(book.keys.reserved, mapping={f"{BTC}:BUY": "0.05", f"{BTC}:SELL": "0.03"})
    await book.fill("BUY", 0.04, 100_000, release=0.05)
    assert sides(await book.redis.hgetall(book.keys.reserved)) == (0, 0.03)
    await book.fill("SELL", 0.01, 100_000, release=-0.03)  # release_qty is side-signed
    assert sides(await book.redis.hgetall(book.keys.reserved)) == (0, 0)
    assert float(await book.redis.hget(book.keys.risk_positions, BTC)) == approx(0.03)


async def test_settling_the_same_entry_twice_moves_the_position_once(book: Book) -> None:
    kind, result_id = await book.fill("BUY", 0.01, 100_000, entry_id="77-0")
    again, same_id = await book.fill("BUY", 0.01, 100_000, entry_id="77-0")
    assert (kind, again, same_id) == ("OK", "DONE", result_id)
    await expect(book, 0.01, 100_000, 0)
    assert await book.redis.xlen(book.keys.result_stream) == 1
    assert await book.redis.llen(book.keys.trades) == 1
