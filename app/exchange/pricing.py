"""Where PAPER gets prices: a static table by default, Binance public book tickers or a Redis quote
stream (app/exchange/quotes.py) when enabled.

The public source needs no key; when it cannot be reached the static table answers, so a PAPER
service never stops trading because the internet is away. A 429 or 418 from Binance closes this
process's Retry-After window (app/exchange/window.py): until it ends no request is sent and the
static table answers, so PAPER never earns the IP a ban.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from importlib import resources
from typing import Mapping, Protocol

import aiohttp
import redis.asyncio as aioredis

from app.config import Market, Settings
from app.exchange.base import Quote
from app.exchange.fills import quote_from_mid
from app.exchange.quotes import StreamQuotes
from app.exchange.ratelimit import BAN, THROTTLE
from app.exchange.window import REFUSED, PauseWindow, WindowClosed, guarded_session_params, pause_seconds, retry_after
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

PUBLIC_URLS = {Market.USDM: "https://fapi.binance.com/fapi/v1/ticker/bookTicker",
               Market.SPOT: "https://api.binance.com/api/v3/ticker/bookTicker"}


class PriceSource(Protocol):
    async def start(self) -> None: ...

    async def quote(self, symbol: str) -> Quote | None: ...

    async def close(self) -> None: ...


def default_prices() -> dict[str, Decimal]:
    data = json.loads((resources.files("app.exchange") / "data" / "paper_prices.json").read_text())
    return {symbol: Decimal(str(price)) for symbol, price in data.items()}


class StaticPrices:
    def __init__(self, mids: dict[str, Decimal], spread_bps: Decimal) -> None:
        self._quotes = {symbol: quote_from_mid(mid, spread_bps) for symbol, mid in mids.items()}

    async def start(self) -> None:
        return None

    async def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    async def close(self) -> None:
        return None


class PublicBookTicker:
    """Binance's public bookTicker with a one-second cache, falling back to a static table."""

    def __init__(self, url: str, fallback: StaticPrices, timeout_s: float = 2.0, ttl_s: float = 1.0) -> None:
        self._url = url
        self._fallback = fallback
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Quote]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.window = PauseWindow()

    async def start(self) -> None:
        return None

    async def quote(self, symbol: str) -> Quote | None:
        cached = self._cache.get(symbol)
        now = time.monotonic()
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        if self.window.left() > 0:
            return await self._fallback.quote(symbol)
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=self._timeout, **guarded_session_params(self.window))
            async with self._session.get(self._url, params={"symbol": symbol}) as response:
                if response.status in REFUSED:
                    self._refused(response.status, response.headers)
                response.raise_for_status()
                body = await response.json(content_type=None)
            quote = Quote(bid=Decimal(str(body["bidPrice"])), ask=Decimal(str(body["askPrice"])))
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError, ArithmeticError, WindowClosed) as exc:
            log.warning("public price for %s unavailable, using the static table: %s", symbol, type(exc).__name__)
            return await self._fallback.quote(symbol)
        self._cache[symbol] = (now, quote)
        return quote

    def _refused(self, status: int, headers: Mapping[str, str]) -> None:
        seconds = pause_seconds(status, retry_after(headers), None)
        self.window.hold(seconds, BAN if status == 418 else THROTTLE, f"HTTP {status} from the public book ticker")
        log.warning("public prices: HTTP %d from Binance; no request for %.0fs, the static table answers", status,
                    seconds)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def build_price_source(settings: Settings, reader: aioredis.Redis | None = None,
                       metrics: Metrics | None = None) -> PriceSource:
    """The source PAPER_PRICE_SOURCE names. ``stream`` reads with ``reader``, a client of its own for
    blocking reads (app/runtime.py's ``stream_reader``), blocking READ_BLOCK_MS per read."""
    if settings.paper_price_source == "stream":
        if reader is None:
            raise ValueError("PAPER_PRICE_SOURCE=stream needs a Redis client to read the quote stream")
        return StreamQuotes(reader, settings.quote_stream, metrics or Metrics(), block_ms=settings.read_block_ms)
    mids = {**default_prices(), **{s: Decimal(str(p)) for s, p in settings.paper_prices.items()}}
    static = StaticPrices(mids, Decimal(str(settings.paper_spread_bps)))
    if settings.paper_price_source == "binance":
        base = settings.binance_futures_base_url if settings.binance_market is Market.USDM else settings.binance_base_url
        url = PUBLIC_URLS[settings.binance_market]
        if base:
            path = "/fapi/v1/ticker/bookTicker" if settings.binance_market is Market.USDM else "/api/v3/ticker/bookTicker"
            url = base.rstrip("/") + path
        return PublicBookTicker(url, static)
    return static
