"""A lease in Redis: one replica at a time does a job every replica could do.

Used where doing a job twice is harmless but wasteful (polling Binance's open orders: the shared
rate budget pays for each poll). The holder extends the lease each round with a TTL a little
longer than the round; if it dies, the key expires and another replica takes it on its next try,
within seconds. Take-and-extend and release are each one Lua call that checks the owner, so a
holder that stalled past its TTL cannot extend or drop a lease another replica took meanwhile.
It is not a fence: a stalled holder may finish the round it was in, which is why it guards only
jobs that are safe to do twice.
"""

from __future__ import annotations

import logging
import secrets

import redis.asyncio as aioredis

from app.state.scripts import source

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, redis: aioredis.Redis, key: str, name: str) -> None:
        self._key = key
        self.owner = f"{name}:{secrets.token_hex(4)}"  # a restarted replica of the same name is a new owner
        self._hold = redis.register_script(source("lease_hold.lua", with_library=False))
        self._release = redis.register_script(source("lease_release.lua", with_library=False))

    async def hold(self, ttl_s: float) -> bool:
        """Take the lease or extend ours for ``ttl_s``; False while another replica holds it."""
        return bool(await self._hold(keys=[self._key], args=[self.owner, max(1, int(ttl_s * 1000))]))

    async def release(self) -> None:
        await self._release(keys=[self._key], args=[self.owner])

    async def leave(self) -> None:
        """Give the lease back at shutdown, so another replica takes over at once; if Redis is away,
        it expires on its own."""
        try:
            await self.release()
        except Exception as exc:
            log.warning("could not give back the lease %s: %s", self._key, type(exc).__name__)
