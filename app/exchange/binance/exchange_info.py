"""exchangeInfo (symbol filters and rate limits), fetched by one replica and shared through Redis.

Spot exchangeInfo costs 20 request weight and changes rarely, so the first replica to need it
stores a trimmed copy in Redis for BINANCE_EXCHANGE_INFO_TTL_S and the others read that copy.
The copy records its market, so switching BINANCE_MARKET never reuses the other market's filters.
"""

from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable, Mapping

import redis.asyncio as aioredis

from app.config import Market
from app.exchange.filters import SymbolRules, rules_from_exchange_info
from app.keys import Keys

_SYMBOL_FIELDS = ("symbol", "status", "baseAsset", "quoteAsset", "filters")


def trim(info: Mapping[str, Any], market: Market, fetched_at: float) -> dict[str, Any]:
    """Keep what the adapter reads; the full document is several hundred kilobytes."""
    return {
        "market": market.value,
        "fetched_at": fetched_at,
        "rateLimits": list(info.get("rateLimits", ())),
        "symbols": [{k: s[k] for k in _SYMBOL_FIELDS if k in s} for s in info.get("symbols", ())],
    }


class ExchangeInfoCache:
    def __init__(self, redis: aioredis.Redis, keys: Keys, market: Market, ttl_s: float) -> None:
        self._redis = redis
        self._key = keys.exchange_info
        self._market = market
        self._ttl_s = ttl_s
        self.rules: dict[str, SymbolRules] = {}
        self.rate_limits: list[dict[str, Any]] = []
        self.fetched_at: float | None = None

    @property
    def loaded(self) -> bool:
        return self.fetched_at is not None

    def age_s(self) -> float | None:
        return None if self.fetched_at is None else max(0.0, time.time() - self.fetched_at)

    def stale(self) -> bool:
        age = self.age_s()
        return age is None or age >= self._ttl_s

    def get(self, symbol: str) -> SymbolRules | None:
        return self.rules.get(symbol)

    async def load_shared(self) -> bool:
        """Use the copy another replica stored, if fresh; True when there was one."""
        shared = await self._shared()
        if shared is not None:
            self._use(shared)
        return shared is not None

    async def load(self, fetch: Callable[[], Awaitable[Mapping[str, Any]]]) -> bool:
        """Use the shared copy if fresh, else fetch and share; True when the exchange was asked."""
        if await self.load_shared():
            return False
        doc = trim(await fetch(), self._market, time.time())
        await self._redis.set(self._key, json.dumps(doc, separators=(",", ":")), ex=max(1, int(self._ttl_s)))
        self._use(doc)
        return True

    async def _shared(self) -> dict[str, Any] | None:
        raw = await self._redis.get(self._key)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        fresh = time.time() - float(doc.get("fetched_at", 0)) < self._ttl_s
        return doc if doc.get("market") == self._market.value and fresh else None

    def _use(self, doc: dict[str, Any]) -> None:
        self.rules = rules_from_exchange_info(doc)
        self.rate_limits = list(doc.get("rateLimits", ()))
        self.fetched_at = float(doc["fetched_at"])
