"""StreamQuotes against a real Redis: reading, refusing, seeding from the tail, listeners, Redis restarts."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from decimal import Decimal as D
from typing import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from app.cli.quote import publish_quote
from app.config import Settings, load_settings
from app.exchange.base import Quote
from app.exchange.paper import PaperExchange
from app.exchange.pricing import build_price_source
from app.exchange.quotes import StreamQuotes
from app.keys import Keys
from app.redis_server import LocalRedis
from app.runtime import stream_reader
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics

STREAM = "market.quotes"
BTC = Quote(D("94000.1"), D("94000.2"))

Seen = list[tuple[str, Quote, str]]


async def until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.01)


def recorder(seen: Seen) -> Callable[[str, Quote, str], Awaitable[None]]:
    async def listener(symbol: str, quote: Quote, quote_id: str) -> None:
        seen.append((symbol, quote, quote_id))
    return listener


def counted(metrics: Metrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value("execution_quotes_total", {"outcome": outcome})


def age(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("execution_quote_age_seconds")
    assert value is not None
    return value


@pytest.fixture
async def reader(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = stream_reader(settings)  # the service's client for blocking reads
    yield client
    await client.aclose()


@pytest.fixture
async def make_source(reader: aioredis.Redis) -> AsyncIterator[Callable[..., Awaitable[StreamQuotes]]]:
    sources: list[StreamQuotes] = []

    async def make(metrics: Metrics | None = None, **options: int) -> StreamQuotes:
        source = StreamQuotes(reader, STREAM, metrics or Metrics(), block_ms=200, **options)
        sources.append(source)
        await source.start()
        return source

    yield make
    for source in sources:
        await source.close()


async def test_data_and_flat_entries_are_read_with_their_optional_sizes(aredis, make_source) -> None:
    source = await make_source()
    await publish_quote(aredis, STREAM, "BTCUSDT", Quote(D("94000.1"), D("94000.2"), D("1.5"), D("0.25")))
    await aredis.xadd(STREAM, {"symbol": "ETHUSDT", "bid": "3500.01", "ask": "3500.02"})
    await until(lambda: "ETHUSDT" in source._quotes, "both quotes read")
    assert await source.quote("BTCUSDT") == Quote(D("94000.1"), D("94000.2"), D("1.5"), D("0.25"))
    assert await source.quote("ETHUSDT") == Quote(D("3500.01"), D("3500.02"))
    assert await source.quote("SOLUSDT") is None


async def test_bad_entries_are_counted_logged_once_and_skipped(aredis, make_source, caplog) -> None:
    metrics, seen = Metrics(), []
    source = await make_source(metrics)
    source.subscribe(recorder(seen))
    with caplog.at_level(logging.WARNING, logger="app.exchange.quotes"):
        for bad in ({"data": "{not json"}, {"symbol": "BTCUSDT", "bid": "2", "ask": "1"},
                    {"data": '{"symbol":"BTCUSDT","bid":-1,"ask":1}'}):
            await aredis.xadd(STREAM, bad)
        good = await publish_quote(aredis, STREAM, "BTCUSDT", BTC)
        await until(lambda: len(seen) == 1, "the good quote after the bad ones")
    assert seen == [("BTCUSDT", BTC, good)]
    assert (counted(metrics, "accepted"), counted(metrics, "refused")) == (1, 3)
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]  # rate-limited: one line
    assert line.startswith("quote entry ") and "on market.quotes refused: data is not valid JSON" in line


async def test_start_seeds_each_symbols_newest_quote_from_the_tail(aredis, make_source) -> None:
    await publish_quote(aredis, STREAM, "SOLUSDT", Quote(D("179"), D("180")))  # beyond the seed count
    await publish_quote(aredis, STREAM, "BTCUSDT", Quote(D("90000"), D("90001")))
    await publish_quote(aredis, STREAM, "ETHUSDT", Quote(D("3500"), D("3501")))
    await publish_quote(aredis, STREAM, "BTCUSDT", BTC)
    await aredis.xadd(STREAM, {"data": '{"symbol":"ETHUSDT","bid":3,"ask":2}'})  # a bad newest ETH entry
    seen: Seen = []
    source = await make_source(seed_count=4)
    source.subscribe(recorder(seen))
    assert await source.quote("BTCUSDT") == BTC  # at once, no waiting: seeded before start returned
    assert await source.quote("ETHUSDT") == Quote(D("3500"), D("3501"))
    assert await source.quote("SOLUSDT") is None
    fresh = await publish_quote(aredis, STREAM, "ETHUSDT", Quote(D("3502"), D("3503")))
    await until(lambda: bool(seen), "the first quote after start")
    await asyncio.sleep(0.3)  # a read or two more: nothing seeded is replayed to listeners
    assert seen == [("ETHUSDT", Quote(D("3502"), D("3503")), fresh)]


async def test_every_listener_gets_every_quote_once_in_order_with_its_entry_id(aredis, make_source) -> None:
    first, second = [], []
    source = await make_source()
    source.subscribe(recorder(first))
    source.subscribe(recorder(second))
    expected = []
    for n in range(30):
        quote = Quote(D(94000 + n), D(94001 + n))
        expected.append(("BTCUSDT", quote, await publish_quote(aredis, STREAM, "BTCUSDT", quote)))
    await until(lambda: len(first) == 30, "30 quotes")
    await asyncio.sleep(0.3)
    assert first == second == expected
    assert await source.quote("BTCUSDT") == expected[-1][1]


async def test_a_failing_listener_is_logged_and_the_reader_goes_on(aredis, make_source, caplog) -> None:
    seen: Seen = []

    async def broken(symbol: str, quote: Quote, quote_id: str) -> None:
        raise RuntimeError("matcher bug")

    source = await make_source()
    source.subscribe(broken)
    source.subscribe(recorder(seen))
    with caplog.at_level(logging.ERROR, logger="app.exchange.quotes"):
        ids = [await publish_quote(aredis, STREAM, "BTCUSDT", BTC) for _ in range(3)]
        await until(lambda: len(seen) == 3, "every quote despite the failing listener")
    assert [quote_id for _s, _q, quote_id in seen] == ids
    failures = [r for r in caplog.records if "quote listener" in r.getMessage()]
    assert len(failures) == 3 and "broken" in failures[0].getMessage() and failures[0].exc_info


async def test_the_reader_survives_a_redis_restart_and_reads_on_from_the_last_id(caplog) -> None:
    """AOF on: the restarted Redis still has the quote read before, which must not be read again."""
    with LocalRedis(appendonly=True, appendfsync="always") as server:
        settings = load_settings({}, redis_url=server.url)
        reader, writer = stream_reader(settings), aioredis.Redis.from_url(server.url)
        seen: Seen = []
        source = StreamQuotes(reader, STREAM, Metrics(), block_ms=200)
        source.subscribe(recorder(seen))
        try:
            await source.start()
            before = await publish_quote(writer, STREAM, "BTCUSDT", BTC)
            await until(lambda: len(seen) == 1, "the quote before the restart")
            await asyncio.to_thread(server.restart)
            await writer.aclose()
            writer = aioredis.Redis.from_url(server.url)  # the old one's connection died with the server
            after_quote = Quote(D("94100"), D("94100.5"))
            after = await publish_quote(writer, STREAM, "BTCUSDT", after_quote)
            await until(lambda: len(seen) == 2, "the quote after the restart", timeout=15)
            await asyncio.sleep(0.3)
            assert seen == [("BTCUSDT", BTC, before), ("BTCUSDT", after_quote, after)]
            assert await source.quote("BTCUSDT") == after_quote
            assert any("unreadable (ConnectionError); reading on from " + before in r.getMessage()
                       for r in caplog.records), "the restart reached the reader"
        finally:
            await source.close()
            await reader.aclose()
            await writer.aclose()


async def test_the_age_of_the_newest_quote_is_a_metric(aredis, make_source) -> None:
    metrics = Metrics()
    await make_source(metrics)
    assert math.isnan(age(metrics))
    await publish_quote(aredis, STREAM, "BTCUSDT", BTC)
    await until(lambda: not math.isnan(age(metrics)), "a quote")
    assert 0 <= age(metrics) < 5
    assert b'execution_quotes_total{outcome="accepted"} 1.0' in metrics.render()


async def test_close_stops_a_blocked_reader_at_once(make_source) -> None:
    source = await make_source()
    started = time.monotonic()
    await source.close()
    assert time.monotonic() - started < 0.2 and source._task is not None and source._task.done()


async def test_paper_says_which_symbol_was_never_quoted(settings: Settings, aredis, reader) -> None:
    stream_settings = settings.model_copy(update={"paper_price_source": "stream"})
    metrics = Metrics()
    source = build_price_source(stream_settings, reader, metrics)
    assert isinstance(source, StreamQuotes) and source.stream == "market.quotes"
    paper = PaperExchange(stream_settings, aredis, Keys.from_settings(stream_settings), Scripts.register(aredis),
                          source, metrics)
    await paper.start()
    try:
        assert paper.prices is source
        with pytest.raises(LookupError, match="no quote for DOTUSDT on market.quotes yet: publish one"):
            await paper.quote("DOTUSDT")
    finally:
        await paper.close()


def test_the_stream_source_needs_a_client(settings: Settings) -> None:
    with pytest.raises(ValueError, match="needs a Redis client"):
        build_price_source(settings.model_copy(update={"paper_price_source": "stream"}))
