"""Crashes at every step, reclaim from dead consumers, dead letters, poison entries."""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import pytest

from app.exchange.base import ExchangeAdapter, ExecutionReport, OrderRequest, OutcomeUnknown
from tests.execution.conftest import Harness, build
from tests.utils.reservations import sides
from tests.utils.streams import by_entry, intent, pending_count, publish, results


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class Wrapped(ExchangeAdapter):
    """Delegates to the PAPER venue; tests switch faults on around the order call."""

    name = "wrapped"

    def __init__(self, inner: ExchangeAdapter) -> None:
        self.inner = inner
        self.crash_before_send = False
        self.crash_after_send = False
        self.unknown_after_send = False
        self.fail_symbol: str | None = None
        self.sent = 0

    async def rules(self, symbol: str) -> Any:
        return await self.inner.rules(symbol)

    async def quote(self, symbol: str) -> Any:
        return await self.inner.quote(symbol)

    async def query_order(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        return await self.inner.query_order(symbol, client_order_id)

    async def place_order(self, request: OrderRequest) -> ExecutionReport:
        return (await self.place_orders([request]))[0]  # type: ignore[return-value]

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[ExecutionReport | BaseException]:
        if self.crash_before_send:
            raise Crash()
        if self.fail_symbol and any(r.symbol == self.fail_symbol for r in requests):
            raise RuntimeError("venue adapter bug")
        reports = await self.inner.place_orders(requests)
        self.sent += len(requests)
        if self.crash_after_send:
            raise Crash()
        if self.unknown_after_send:
            return [OutcomeUnknown("timeout after send") for _ in requests]
        return reports


@pytest.fixture
async def wrapped(redis_url: str, aredis: Any, sync: Any) -> Harness:
    return build(redis_url, aredis, sync, exchange_wrapper=Wrapped)


async def _crash(h: Harness) -> None:
    with pytest.raises(Crash):
        await h.consumer("dead").burst()


@pytest.mark.parametrize("when", ["crash_before_send", "crash_after_send"])
async def test_crash_around_the_order_then_redelivery_places_exactly_one_order(wrapped: Harness, when: str) -> None:
    ex: Wrapped = wrapped.exchange  # type: ignore[assignment]
    body = intent()
    [entry_id] = publish(wrapped.sync, body)
    setattr(ex, when, True)
    await _crash(wrapped)
    assert results(wrapped.sync) == [] and pending_count(wrapped.sync) == 1
    setattr(ex, when, False)

    await asyncio.sleep(0.15)  # past CLAIM_MIN_IDLE_MS: the dead consumer's entry is reclaimed
    await wrapped.consumer("alive").burst()

    [result] = results(wrapped.sync)
    assert result["intent_entry_id"] == entry_id and result["status"] == "FILLED"
    assert result["consumer"] == "alive"
    assert wrapped.paper_orders() == 1
    [position] = await wrapped.store.positions()
    assert position["qty"] == 0.002
    assert pending_count(wrapped.sync) == 0
    assert sides(wrapped.sync.hgetall(wrapped.keys.reserved)) == (0, 0)


async def test_unknown_outcome_stays_pending_then_resolves_by_lookup(wrapped: Harness) -> None:
    ex: Wrapped = wrapped.exchange  # type: ignore[assignment]
    publish(wrapped.sync, intent())
    ex.unknown_after_send = True
    await wrapped.consumer("c1").burst()
    assert results(wrapped.sync) == [] and pending_count(wrapped.sync) == 1
    assert len(wrapped.sync.smembers(wrapped.keys.inflight)) == 1
    ex.unknown_after_send = False
    await wrapped.consumer("c1").burst()  # its own pending entry, looked up, not resent
    [result] = results(wrapped.sync)
    assert result["status"] == "FILLED" and ex.sent == 1 and wrapped.paper_orders() == 1
    assert not wrapped.sync.smembers(wrapped.keys.inflight)


async def test_a_poison_entry_stays_pending_without_blocking_its_batch(wrapped: Harness) -> None:
    ex: Wrapped = wrapped.exchange  # type: ignore[assignment]
    ex.fail_symbol = "ETHUSDT"
    ids = publish(wrapped.sync, intent("BTCUSDT"), intent("ETHUSDT", quantity=0.01), intent("SOLUSDT", quantity=1))
    await wrapped.consumer().burst()
    grouped = by_entry(results(wrapped.sync))
    assert set(grouped) == {ids[0], ids[2]}
    assert pending_count(wrapped.sync) == 1


async def test_entry_delivered_too_often_is_dead_lettered_with_a_failed_result(redis_url: str, aredis: Any,
                                                                               sync: Any) -> None:
    h = build(redis_url, aredis, sync, exchange_wrapper=Wrapped, max_deliveries=2)
    ex: Wrapped = h.exchange  # type: ignore[assignment]
    ex.fail_symbol = "ETHUSDT"
    [entry_id] = publish(h.sync, intent("ETHUSDT", quantity=0.01))
    for attempt in range(2):
        await asyncio.sleep(0.15)
        await h.consumer(f"try{attempt}").burst()
        assert results(h.sync) == []
    await asyncio.sleep(0.15)
    await h.consumer("last").burst()

    [result] = results(h.sync)
    assert result["intent_entry_id"] == entry_id
    assert (result["status"], result["reason"]) == ("FAILED", "DEAD_LETTER")
    assert "delivered 3 times" in result["message"]
    [(dlq_id, fields)] = h.sync.xrange(h.keys.dlq_stream)
    assert fields[b"dlq_entry_id"].decode() == entry_id and fields[b"dlq_deliveries"] == b"3"
    assert b"data" in fields
    assert pending_count(h.sync) == 0
    assert ex.sent == 0 and sides(h.sync.hgetall(h.keys.reserved), "ETHUSDT") == (0, 0)


async def test_consumer_reclaims_entries_of_a_dead_consumer(harness: Harness) -> None:
    ids = publish(harness.sync, *(intent(quantity=0.002, side=s) for s in ("BUY", "SELL", "BUY")))
    await harness.consumer("c-alive").ensure_group()
    harness.sync.xreadgroup("execution", "c-dead", {"trade.intent": ">"}, count=10)  # read, then died
    assert pending_count(harness.sync) == 3
    await asyncio.sleep(0.15)
    await harness.consumer("c-alive").burst()
    grouped = by_entry(results(harness.sync))
    assert set(grouped) == set(ids) and all(r[0]["consumer"] == "c-alive" for r in grouped.values())
    assert pending_count(harness.sync) == 0
