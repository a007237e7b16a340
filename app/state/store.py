"""Reading the service's books from Redis for the API, and the trading state switch."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from app.codec import text
from app.keys import Keys
from app.models.trading import TradingState

POSITION_FLOATS = ("qty", "avg_entry", "notional_usd", "realized_pnl", "fees", "funding")



class Store:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def trading_state(self) -> TradingState:
        value = await self._redis.get(self._keys.trading_state)
        return TradingState(text(value)) if value else TradingState.ACTIVE

    async def set_trading_state(self, state: TradingState) -> None:
        await self._redis.set(self._keys.trading_state, state.value)

    async def positions(self) -> list[dict[str, Any]]:
        symbols = sorted(text(s) for s in await self._redis.smembers(self._keys.positions_index))
        pipe = self._redis.pipeline(transaction=False)
        for symbol in symbols:
            pipe.hgetall(self._keys.position(symbol))
        out = []
        for raw in await pipe.execute():
            row = {text(k): text(v) for k, v in raw.items()}
            if not row:
                continue
            position: dict[str, Any] = {"symbol": row["symbol"]}
            position.update({name: float(row.get(name, 0)) for name in POSITION_FLOATS})
            position["side"] = "LONG" if position["qty"] > 0 else "SHORT" if position["qty"] < 0 else "FLAT"
            position.update(leverage=int(float(row.get("leverage", 1))), trades=int(row.get("trades", 0)),
                            updated_ms=int(row.get("updated_ms", 0)))
            out.append(position)
        return out

    async def trades(self, limit: int) -> list[dict[str, Any]]:
        return [json.loads(t) for t in await self._redis.lrange(self._keys.trades, 0, limit - 1)]

    async def order(self, intent_id: str) -> dict[str, Any] | None:
        raw = await self._redis.hgetall(self._keys.order(intent_id))
        return _order(raw) if raw else None

    async def orders(self, limit: int) -> list[dict[str, Any]]:
        ids = [text(i) for i in await self._redis.lrange(self._keys.orders_recent, 0, limit - 1)]
        pipe = self._redis.pipeline(transaction=False)
        for intent_id in ids:
            pipe.hgetall(self._keys.order(intent_id))
        return [_order(raw) for raw in await pipe.execute() if raw]

    async def counters(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._keys.counters)
        return {text(k): int(v) for k, v in raw.items()}


def _order(raw: dict[Any, Any]) -> dict[str, Any]:
    """An order record: while in flight its own fields; once answered (settle.lua keeps only the
    result, to save memory) the same facts read from its result."""
    row = {text(k): text(v) for k, v in raw.items()}
    result = json.loads(row["result"]) if row.get("result") else None
    facts = result or {}
    return {
        "intent_id": row.get("intent_id", facts.get("intent_id")),
        "client_order_id": row.get("client_order_id", facts.get("client_order_id")),
        "symbol": row.get("symbol", facts.get("symbol")), "state": row.get("state"),
        "intent_entry_id": row.get("entry_id", facts.get("intent_entry_id")), "result_id": row.get("result_id"),
        "result": result,
    }
