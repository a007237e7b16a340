"""The consumer loop against a real Redis that stalls or drops its connections.

A stall (``SIGSTOP`` of redis-server: the whole process frozen, as under ``DEBUG SLEEP``, a fork or
a paused VM) outlasts the reader's socket timeout, so the client gives up on a blocking
``XREADGROUP`` that Redis still runs when it wakes: the entries it hands out are this consumer's,
and nobody would work on them until they had been idle for ``CLAIM_MIN_IDLE_MS``. A dropped
connection, by contrast, is routine: the consumer reconnects without a warning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any, AsyncIterator, Iterator

import pytest

from app.bus.consumer import StreamConsumer
from app.config import load_settings
from app.redis_server import LocalRedis
from app.runtime import redis_client, stream_reader
from tests.execution.conftest import Harness, build
from tests.utils.streams import intent, publish, results

READER_TIMEOUT_S = 0.3
CLAIM_MIN_IDLE_MS = 120_000  # far beyond the test: an entry answered at all was not reclaimed


@pytest.fixture
def stalling_redis() -> Iterator[LocalRedis]:
    """A private redis-server, so freezing it stalls nobody else's tests."""
    with LocalRedis() as server:
        yield server
        os.kill(server.process.pid, signal.SIGCONT)


@pytest.fixture
async def pipeline(stalling_redis: LocalRedis) -> AsyncIterator[Harness]:
    """The PAPER pipeline on the service's own Redis client (5 s socket timeout, one retry)."""
    settings = load_settings({}, redis_url=stalling_redis.url)
    client = redis_client(settings, socket_timeout=5.0)
    sync = stalling_redis.client()
    try:
        yield build(stalling_redis.url, client, sync, claim_min_idle_ms=CLAIM_MIN_IDLE_MS, read_block_ms=100,
                    read_batch_size=10, pending_retry_s=30.0)
    finally:
        sync.close()
        await client.aclose()


def _stall_before_first_read(reader: Any, server: LocalRedis, stall_s: float) -> None:
    """Freeze Redis for ``stall_s`` just before the reader sends its first XREADGROUP of new entries:
    the command then waits in Redis's socket while the client times out, and runs when Redis wakes."""
    read = reader.xreadgroup

    async def stalled(*args: Any, **kwargs: Any) -> Any:
        reader.xreadgroup = read
        os.kill(server.process.pid, signal.SIGSTOP)
        threading.Timer(stall_s, os.kill, (server.process.pid, signal.SIGCONT)).start()
        return await read(*args, **kwargs)

    reader.xreadgroup = stalled


async def _answered(h: Harness, count: int, timeout: float) -> list[dict[str, Any]]:
    """Every result once ``count`` arrived, or what there was after ``timeout`` (a small share of
    CLAIM_MIN_IDLE_MS: anything answered later waited to be reclaimed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(found := await asyncio.to_thread(results, h.sync)) < count and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("stall_s", [READER_TIMEOUT_S * 1.5, READER_TIMEOUT_S * 5],
                         ids=["a-resent-read-succeeds", "the-read-fails"])
async def test_a_read_lost_in_a_redis_stall_is_answered_at_once_not_after_the_claim_delay(
        pipeline: Harness, stalling_redis: LocalRedis, stall_s: float) -> None:
    """As reproduced: a backlog, one replica, Redis asleep longer than the reader's socket timeout."""
    bodies = [intent("BTCUSDT", "BUY" if n % 2 else "SELL") for n in range(30)]
    publish(pipeline.sync, *bodies)
    reader = stream_reader(pipeline.settings, socket_timeout=READER_TIMEOUT_S)
    await reader.ping()  # connected: the read is sent at once, into the frozen server's socket
    _stall_before_first_read(reader, stalling_redis, stall_s)
    consumer = StreamConsumer(pipeline.settings, pipeline.redis, reader, pipeline.keys, pipeline.processor.process,
                              pipeline.metrics)
    loop = asyncio.create_task(consumer.run())
    try:
        found = await _answered(pipeline, len(bodies), timeout=20.0)
    finally:
        consumer.stop()
        await asyncio.wait_for(loop, 10)
        await reader.aclose()

    assert sorted(r["intent_id"] for r in found) == sorted(b["intent_id"] for b in bodies), (
        f"{len(found)} of {len(bodies)} intents answered; the rest wait for CLAIM_MIN_IDLE_MS")
    assert {r["status"] for r in found} == {"FILLED"}, [r["reason"] for r in found]
    assert pipeline.sync.xpending(pipeline.keys.intent_stream, pipeline.keys.group)["pending"] == 0


async def test_a_dropped_connection_is_reconnected_without_a_warning(
        pipeline: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Redis closing the reader's connection (CLIENT KILL, a restart, a proxy) is expected: the
    consumer reconnects, logs it at INFO and stays OK on /health; only a failure that repeats warns."""
    reader = stream_reader(pipeline.settings)
    consumer = StreamConsumer(pipeline.settings, pipeline.redis, reader, pipeline.keys, pipeline.processor.process,
                              pipeline.metrics)
    loop = asyncio.create_task(consumer.run())
    try:
        while not consumer.joined:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # idle: its XREADGROUP is blocked in Redis
        with caplog.at_level(logging.INFO, logger="app.bus.consumer"):
            pipeline.sync.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            body = intent()
            publish(pipeline.sync, body)
            found = await _answered(pipeline, 1, timeout=20.0)
        health = consumer.last_error
    finally:
        consumer.stop()
        await asyncio.wait_for(loop, 10)
        await reader.aclose()

    assert [r["intent_id"] for r in found] == [body["intent_id"]]
    assert health is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("reconnecting" in r.getMessage() for r in caplog.records), "the reconnect is logged at INFO"
