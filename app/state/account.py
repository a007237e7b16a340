"""The venue's account as the user-data stream reports it: wallet balances, and funding fees booked
on the positions they were paid on.

Balances are the venue's own figures, written over the last ones (the stream's holder is the only
writer, and Binance orders one connection's ACCOUNT_UPDATEs by time). A funding fee changes the
books: it is added once to the position's ``funding`` and ``realized_pnl`` (funding.lua). Binance
gives the event no id, so a fee is known by its event time, asset and symbol, kept FUNDING_SEEN_S:
a duplicate delivered within that time (a reconnect, a replica taking over) is booked once.
"""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum

import redis.asyncio as aioredis

from app.keys import Keys
from app.state.scripts import source

FUNDING_SEEN_S = 86_400  # Binance charges funding every few hours; a duplicate comes within seconds


class Funding(IntEnum):
    SEEN = 0         # a duplicate: nothing booked
    BOOKED = 1       # added to the position
    UNATTRIBUTED = 2  # new, but on no position of the books (a crossed position: the venue names no symbol)


class AccountBook:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._funding = redis.register_script(source("funding.lua", with_library=False))

    async def set_balances(self, balances: tuple[tuple[str, Decimal], ...], event_ms: int) -> None:
        if balances:
            await self._redis.hset(self._keys.binance_balances,
                                   mapping={**{a: str(w) for a, w in balances}, "updated_ms": event_ms})

    async def book_funding(self, asset: str, amount: Decimal, symbol: str | None, event_ms: int,
                           now_ms: int) -> Funding:
        keys = [self._keys.funding_seen(f"{event_ms}:{asset}:{symbol or ''}")]
        if symbol:
            keys.append(self._keys.position(symbol))
        return Funding(int(await self._funding(keys=keys, args=[str(amount), FUNDING_SEEN_S * 1000, now_ms])))
