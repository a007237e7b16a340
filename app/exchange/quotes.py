"""PAPER prices from a Redis stream of top-of-book quotes (PAPER_PRICE_SOURCE=stream).

A market-data service of the user's adds quotes to QUOTE_STREAM (entry format: quote_entry.py).
Every replica reads the whole stream itself with plain XREAD, no consumer group: each one prices
its own MARKET orders and so needs every quote. For the same reason a listener (``subscribe``) is
called with every quote on every replica: whatever it changes in Redis it must change once, keyed
by the quote's entry id.

On start the newest quote of each symbol is taken from the stream's tail (XREVRANGE, a bounded
count), so a replica starting between quotes prices at once; listeners are not called for those
(they are history, not news). Reading then goes on from the last id seen. The blocking read needs a
client of its own whose socket timeout is well above ``block_ms`` and which never re-sends a command
(app/runtime.py's ``stream_reader``); after any failure the reader backs off and reads on from the
last id, so a Redis restart loses no quote that the restarted Redis still has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.backoff import Backoff
from app.codec import text
from app.exchange.base import Quote
from app.exchange.quote_entry import QuoteError, decode_entry
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

Listener = Callable[[str, Quote, str], Awaitable[None]]  # (symbol, quote, quote entry id)
SEED_COUNT = 1000  # tail entries read at start for each symbol's newest quote
READ_COUNT = 500
REFUSAL_LOG_INTERVAL_S = 5.0


class StreamQuotes:
    def __init__(self, reader: aioredis.Redis, stream: str, metrics: Metrics, block_ms: int = 1000,
                 seed_count: int = SEED_COUNT) -> None:
        self._reader = reader
        self._stream = stream
        self._metrics = metrics
        self._block_ms = block_ms
        self._seed_count = seed_count
        self._quotes: dict[str, Quote] = {}
        self._listeners: list[Listener] = []
        self._last_id = "0-0"
        self._newest_ms: int | None = None
        self._refusals = _Refusals(stream)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        metrics.quote_age.set_function(self._age)

    @property
    def stream(self) -> str:
        return self._stream

    def subscribe(self, callback: Listener) -> None:
        """Await ``callback(symbol, quote, entry_id)`` for every quote read from now on, in stream order.

        A listener that raises is logged and the reader goes on; a slow one holds the reader up.
        """
        self._listeners.append(callback)

    async def quote(self, symbol: str) -> Quote | None:
        """The newest quote of ``symbol``, or None when the stream never had a valid one."""
        return self._quotes.get(symbol)

    async def start(self) -> None:
        """Seed from the stream's tail, then read on in the background. Raises while Redis is away
        (the runtime retries the venue's start, and the replica stays unready meanwhile)."""
        if self._task is not None:
            return
        tail = await self._reader.xrevrange(self._stream, count=self._seed_count)
        for entry_id, fields in reversed(tail):  # oldest first: each symbol ends with its newest quote
            self._last_id = text(entry_id)
            decoded = self._decode(self._last_id, fields)
            if decoded is not None:
                self._quotes[decoded[0]] = decoded[1]
        self._task = asyncio.create_task(self._run(), name="quotes")

    async def close(self) -> None:
        """Stop reading. The reader client belongs to the caller, who closes it."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()  # a plain XREAD changes nothing in Redis: safe to abandon mid-block
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = Backoff(self._stopping, base=0.1, cap=5.0)
        while not self._stopping.is_set():
            try:
                reply = await self._reader.xread({self._stream: self._last_id}, count=READ_COUNT,
                                                 block=self._block_ms)
                for _stream, entries in reply or ():
                    for entry_id, fields in entries:
                        await self._take(text(entry_id), fields)
            except Exception as exc:  # Redis away, or a bug (past the entry that hit it): never let the reader die
                delay = backoff.next_delay()
                log.warning("quote stream %s unreadable (%s); reading on from %s in %.1fs", self._stream,
                            type(exc).__name__, self._last_id, delay,
                            exc_info=not isinstance(exc, (RedisError, OSError)))
                await backoff.sleep(delay)
                continue
            backoff.reset()

    async def _take(self, entry_id: str, fields: Mapping[Any, Any]) -> None:
        self._last_id = entry_id
        decoded = self._decode(entry_id, fields)
        if decoded is None:
            return
        symbol, quote = decoded
        self._quotes[symbol] = quote
        for listener in self._listeners:
            try:
                await listener(symbol, quote, entry_id)
            except Exception:
                log.exception("quote listener %s failed on %s entry %s", getattr(listener, "__qualname__", listener),
                              self._stream, entry_id)

    def _decode(self, entry_id: str, fields: Mapping[Any, Any]) -> tuple[str, Quote] | None:
        try:
            decoded = decode_entry(fields)
        except QuoteError as exc:
            self._metrics.quotes.labels("refused").inc()
            self._refusals.report(entry_id, str(exc))
            return None
        self._metrics.quotes.labels("accepted").inc()
        self._newest_ms = max(self._newest_ms or 0, int(entry_id.split("-", 1)[0]))
        return decoded

    def _age(self) -> float:
        return float("nan") if self._newest_ms is None else max(0.0, time.time() - self._newest_ms / 1000)


class _Refusals:
    """At most one log line per interval for refused entries: a feed gone wrong must not flood the logs."""

    def __init__(self, stream: str, interval_s: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self._stream = stream
        self._interval = interval_s
        self._next = 0.0
        self._unlogged = 0

    def report(self, entry_id: str, why: str) -> None:
        now = time.monotonic()
        if now < self._next:
            self._unlogged += 1
            return
        log.warning("quote entry %s on %s refused: %s (%d more refused since the last such line)", entry_id,
                    self._stream, why, self._unlogged)
        self._next, self._unlogged = now + self._interval, 0
