"""Upkeep: gone consumers are removed, the intent stream is trimmed only below finished work."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from app.bus.maintenance import Maintenance
from app.config import load_settings
from app.keys import Keys
from app.telemetry.metrics import Metrics


def _maintenance(redis: aioredis.Redis, url: str, **overrides: object) -> tuple[Maintenance, Keys, Metrics]:
    settings = load_settings({}, redis_url=url, consumer_name="me", **overrides)
    keys, metrics = Keys.from_settings(settings), Metrics()
    return Maintenance(settings, redis, keys, metrics), keys, metrics


async def test_idle_consumers_with_nothing_pending_are_removed(aredis: aioredis.Redis, redis_url: str) -> None:
    upkeep, keys, _ = _maintenance(aredis, redis_url, consumer_idle_cleanup_s=0.2)
    await aredis.xgroup_create(keys.intent_stream, keys.group, id="0", mkstream=True)
    for _ in range(4):
        await aredis.xadd(keys.intent_stream, {"data": "{}"})

    async def read(consumer: str, ack: bool) -> None:
        reply = await aredis.xreadgroup(keys.group, consumer, {keys.intent_stream: ">"}, count=1)
        if ack:
            await aredis.xack(keys.intent_stream, keys.group, reply[0][1][0][0])

    await read("gone-idle", ack=True)
    await read("gone-with-pending", ack=False)
    await read("me", ack=True)
    await asyncio.sleep(0.3)
    await read("fresh", ack=True)

    await upkeep.tick()
    names = {c["name"].decode() for c in await aredis.xinfo_consumers(keys.intent_stream, keys.group)}
    assert names == {"gone-with-pending", "me", "fresh"}


async def test_the_intent_stream_is_trimmed_only_below_finished_entries(aredis: aioredis.Redis, redis_url: str) -> None:
    upkeep, keys, metrics = _maintenance(aredis, redis_url, stream_maxlen=100)
    await aredis.xgroup_create(keys.intent_stream, keys.group, id="0", mkstream=True)
    ids = [await aredis.xadd(keys.intent_stream, {"data": "{}"}) for _ in range(1000)]
    read = await aredis.xreadgroup(keys.group, "c", {keys.intent_stream: ">"}, count=600)
    done = [entry_id for entry_id, _ in read[0][1]]
    await aredis.xack(keys.intent_stream, keys.group, *done[:300], *done[301:])  # entry 300 stays pending

    stats = await upkeep.tick()
    assert (stats.pending, stats.lag) == (1, 400)
    remaining = [entry_id for entry_id, _ in await aredis.xrange(keys.intent_stream)]
    assert ids[300] in remaining and set(ids[300:]) <= set(remaining), "pending and unread entries are kept"
    assert len(remaining) < 1000, "finished entries below the oldest pending one are trimmed"
    assert b"execution_consumer_lag 400.0" in metrics.render()
    assert b"execution_consumer_pending 1.0" in metrics.render()


async def test_answered_intents_are_kept_within_a_byte_budget(aredis: aioredis.Redis, redis_url: str) -> None:
    """At most INTENT_STREAM_MAX_BYTES / MAX_INTENT_BYTES answered entries stay, whatever STREAM_MAXLEN
    allows: a million entries of 64 KiB would be 64 GiB."""
    upkeep, keys, _ = _maintenance(aredis, redis_url, max_intent_bytes=65536,  # 256 entries; STREAM_MAXLEN 1,000,000
                                   intent_stream_max_bytes=16 * 1024 * 1024)
    await aredis.xgroup_create(keys.intent_stream, keys.group, id="0", mkstream=True)
    ids = [await aredis.xadd(keys.intent_stream, {"data": "{}"}) for _ in range(1000)]
    read = await aredis.xreadgroup(keys.group, "c", {keys.intent_stream: ">"}, count=900)
    await aredis.xack(keys.intent_stream, keys.group, *(entry_id for entry_id, _ in read[0][1]))

    await upkeep.tick()
    remaining = [entry_id for entry_id, _ in await aredis.xrange(keys.intent_stream)]
    assert set(ids[900:]) <= set(remaining), "unread entries are kept"
    assert len(remaining) <= 100 + 100, "answered entries are trimmed (whole nodes of 100 entries)"
