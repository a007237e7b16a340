"""The books' side of reconciliation: reading positions and busy symbols, booking external trades.

A position Binance holds differently from the books (another client's order, a liquidation, ADL) is
booked as one ``external`` trade of the difference at Binance's mark price, so positions, the gate's
view of them and PnL follow the exchange. The write is a compare-and-set on the quantity that was
compared (external_adjust.lua): if a fill of the service's own moved the position meanwhile, nothing
is written and the next round compares again.
"""

from __future__ import annotations

import time
from decimal import Decimal

import orjson
import redis.asyncio as aioredis

from app.codec import iso_ms, text
from app.keys import Keys
from app.state.scripts import source

EXTERNAL = "external"


class ExternalBook:
    def __init__(self, redis: aioredis.Redis, keys: Keys, history: int, mode: str) -> None:
        self._redis = redis
        self._keys = keys
        self._history = history
        self._mode = mode
        self._adjust = redis.register_script(source("external_adjust.lua"))

    async def positions(self) -> dict[str, str]:
        """The gate's view: symbol -> signed quantity as written (the compare-and-set compares this text)."""
        return {text(k): text(v) for k, v in (await self._redis.hgetall(self._keys.risk_positions)).items()}

    async def busy(self) -> frozenset[str]:
        """Symbols with an order of the service open or in flight (a reservation above 0)."""
        raw = await self._redis.hgetall(self._keys.reserved)
        return frozenset(text(k).rsplit(":", 1)[0] for k, v in raw.items() if Decimal(text(v)) > 0)

    async def adjust(self, symbol: str, booked: str | None, difference: Decimal, price: Decimal,
                     source_ids: list[str]) -> bool:
        """Book ``difference`` (signed) on ``symbol`` as an external trade; False if the position moved
        since ``booked`` was read."""
        now = time.time()
        trade = orjson.dumps(dict(
            trade_id=f"{EXTERNAL}:{symbol}:{int(now * 1000)}", intent_id=None, client_order_id=None,
            external=True, source=source_ids or None, exchange_order_id=None, symbol=symbol,
            side="BUY" if difference > 0 else "SELL", quantity=float(abs(difference)), price=float(price), fee=0.0,
            fee_asset=None, mode=self._mode, time=iso_ms(now))).decode()
        k = self._keys
        done = await self._adjust(keys=[k.position(symbol), k.risk_positions, k.marks, k.positions_index, k.trades],
                                  args=[symbol, booked or "", f"{difference:f}", f"{price:f}", trade, self._history,
                                        int(now * 1000)])
        return bool(done)
