"""The lease: one holder at a time, extended by its holder, taken over once it expires."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from app.state.lease import Lease

KEY = "exec:binance:poll_lease"


async def test_one_holder_at_a_time_and_the_holder_extends_it(aredis: aioredis.Redis) -> None:
    first, second = Lease(aredis, KEY, "r0"), Lease(aredis, KEY, "r1")
    assert await first.hold(5) and not await second.hold(5)
    assert await first.hold(10)                                  # extended, still ours
    assert 9000 < await aredis.pttl(KEY) <= 10000
    assert (await aredis.get(KEY)).decode() == first.owner


async def test_a_lease_its_holder_stopped_renewing_is_taken_over_when_it_expires(aredis: aioredis.Redis) -> None:
    dead, alive = Lease(aredis, KEY, "r0"), Lease(aredis, KEY, "r1")
    assert await dead.hold(0.3)
    assert not await alive.hold(5)
    await asyncio.sleep(0.4)
    assert await alive.hold(5)
    assert not await dead.hold(5), "the old holder cannot take back a lease another replica holds"


async def test_release_gives_up_only_ones_own_lease(aredis: aioredis.Redis) -> None:
    holder, other = Lease(aredis, KEY, "r0"), Lease(aredis, KEY, "r0")  # same replica name, a new process
    assert holder.owner != other.owner
    assert await holder.hold(5)
    await other.release()
    assert await aredis.exists(KEY)
    await holder.release()
    assert not await aredis.exists(KEY) and await other.hold(5)
