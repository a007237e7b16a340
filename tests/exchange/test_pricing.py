"""PAPER prices: the static table, and Binance public book tickers with a fallback when unreachable."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from app.config import load_settings
from app.exchange.pricing import PublicBookTicker, StaticPrices, build_price_source
from app.redis_server import free_port
from tests.fakes.binance_server import FakeBinance


async def test_static_table_quotes_around_the_mid_with_the_configured_spread() -> None:
    source = build_price_source(load_settings({}, paper_prices={"BTCUSDT": 50_000.0}, paper_spread_bps=2.0))
    quote = await source.quote("BTCUSDT")
    assert quote is not None and (quote.bid, quote.ask) == (Decimal("49995.0000"), Decimal("50005.0000"))
    assert await source.quote("NOPEUSDT") is None


async def test_public_book_ticker_is_read_from_the_venue() -> None:
    async with FakeBinance() as fake:
        settings = load_settings({}, paper_price_source="binance", binance_futures_base_url=fake.url)
        source = build_price_source(settings)
        assert isinstance(source, PublicBookTicker)
        quote = await source.quote("ETHUSDT")
        bid, ask = fake.exchange.touch("usdm", "ETHUSDT")
        assert quote is not None and (quote.bid, quote.ask) == (bid, ask)
        await source.quote("ETHUSDT")  # cached: no second request within the TTL
        assert sum(1 for r in fake.requests if "bookTicker" in r.path) == 1
        await source.close()


async def test_unreachable_venue_falls_back_to_the_static_table() -> None:
    static = StaticPrices({"BTCUSDT": Decimal("60000")}, Decimal("0"))
    source = PublicBookTicker(f"http://127.0.0.1:{free_port()}/fapi/v1/ticker/bookTicker", static, timeout_s=1.0)
    quote = await source.quote("BTCUSDT")
    assert quote is not None and quote.bid == quote.ask == Decimal("60000")
    await source.close()


async def test_a_429_keeps_the_public_book_ticker_quiet_for_its_retry_after() -> None:
    static = StaticPrices({"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000")}, Decimal("0"))
    async with FakeBinance() as fake:
        source = PublicBookTicker(fake.url + "/fapi/v1/ticker/bookTicker", static, ttl_s=0.0)
        fake.throttle(retry_after_s=1.0)
        first = await source.quote("BTCUSDT")                       # met the 429: the table answers
        [window] = fake.windows
        answers = [first]
        while time.monotonic() < window.end - 0.1:                  # every quote inside the window: the table's
            answers += await asyncio.gather(*(source.quote(s) for s in ("BTCUSDT", "ETHUSDT") * 3))
            await asyncio.sleep(0.02)
        assert len(answers) > 10 and all(a is not None and a.bid == a.ask for a in answers)
        assert [r.status for r in fake.requests] == [429] and fake.requests_in_windows() == []
        await asyncio.sleep(window.end - time.monotonic() + 0.05)
        after = await source.quote("ETHUSDT")                       # the window over, Binance answers again
        assert after is not None and (after.bid, after.ask) == fake.exchange.touch("usdm", "ETHUSDT")
        await source.close()
