"""PAPER_PRICE_SOURCE=stream through the pipeline: MARKET orders fill at the streamed quote, and a
symbol never quoted gets a FAILED result saying so."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

from app.cli.quote import publish_quote
from app.exchange.base import Quote
from app.exchange.paper import PaperExchange
from tests.execution.conftest import build
from tests.utils.streams import by_entry, intent, publish, results


async def test_market_intents_fill_at_the_newest_streamed_quote(redis_url, aredis, sync) -> None:
    harness = build(redis_url, aredis, sync, paper_price_source="stream")
    assert isinstance(harness.exchange, PaperExchange)
    stream = harness.settings.quote_stream
    await publish_quote(aredis, stream, "BTCUSDT", Quote(D("94000.1"), D("94000.2")))  # before start: seeded
    await harness.exchange.start()
    try:
        await publish_quote(aredis, stream, "BTCUSDT", Quote(D("93000.0"), D("93000.5")))
        deadline = time.monotonic() + 5
        while (await harness.exchange.quote("BTCUSDT")).ask != D("93000.5"):
            assert time.monotonic() < deadline, "the streamed quote was not read"
            await asyncio.sleep(0.01)
        buy, sell, never = publish(sync, intent("BTCUSDT", "BUY", quantity=0.002),
                                   intent("BTCUSDT", "SELL", quantity=0.002), intent("ETHUSDT", "BUY", quantity=0.01))
        await harness.consumer().burst()
    finally:
        await harness.exchange.close()
    grouped = by_entry(results(sync))
    # 1 bp of slippage away from the touch, to the 0.1 tick: 93000.5 * 1.0001 = 93009.80005; 93000 * 0.9999 = 92990.7
    [bought], [sold] = grouped[buy], grouped[sell]
    assert (bought["status"], bought["avg_price"], bought["executed_quantity"]) == ("FILLED", 93009.8, 0.002)
    assert (sold["status"], sold["avg_price"]) == ("FILLED", 92990.7)
    [refused] = grouped[never]
    assert (refused["status"], refused["reason"]) == ("FAILED", "EXCHANGE_UNAVAILABLE")
    assert "no quote for ETHUSDT on market.quotes yet" in refused["message"], refused["message"]
    assert harness.paper_orders() == 2
