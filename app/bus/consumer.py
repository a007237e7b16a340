"""The consumer-group loop: read new intents, reclaim a dead replica's, hand batches to the pipeline.

At-least-once delivery: entries are acknowledged only by settlement (with their result). Pending
entries idle longer than CLAIM_MIN_IDLE_MS are claimed by whichever replica looks first; an entry
delivered more than MAX_DELIVERIES times is dead-lettered by the pipeline. While a replica works on
entries it keeps them from looking idle, so only a dead replica's are claimed: a live one may be
waiting on a slow order, and a claimer's look-up would find no order yet and send a second.

A read or claim the client gave up on (a Redis stall longer than the socket timeout, a dropped
connection) may still have run in Redis, handing this consumer entries it never received. So those
commands are never re-sent, and after any failure the loop first takes up its own pending entries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.backoff import Backoff
from app.bus.delivery import Delivery
from app.codec import text
from app.config import Settings
from app.keys import Keys
from app.state.scripts import source
from app.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[list[Delivery]], Awaitable[int]]
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class StreamConsumer:
    def __init__(self, settings: Settings, redis: aioredis.Redis, reader: aioredis.Redis, keys: Keys,
                 handler: Handler, metrics: Metrics) -> None:
        self._s = settings
        self._redis = redis
        self._reader = reader  # reads and claims: its own connections, never re-sent (runtime.stream_reader)
        self._keys = keys
        self._handler = handler
        self._metrics = metrics
        self._name = settings.consumer_name
        self._stopping = asyncio.Event()
        self._backoff = Backoff(self._stopping, base=0.1, cap=5.0)
        self.joined = False
        self.heartbeat = time.monotonic()
        self.last_error: str | None = None
        self._next_claim = 0.0
        self._retry_own_at: float | None = None
        self._slots = asyncio.Semaphore(settings.batch_concurrency)
        self._keep = redis.register_script(source("keep_claimed.lua", with_library=False))
        self._workers: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return not self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()

    async def ensure_group(self) -> None:
        """Create the group from the start of the stream (id 0), so no earlier intent is skipped."""
        try:
            await self._redis.xgroup_create(self._keys.intent_stream, self._keys.group, id="0", mkstream=True)
            log.info("created consumer group %s on %s", self._keys.group, self._keys.intent_stream)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.joined = True

    async def run(self) -> None:
        own_pending: str | None = "0"  # where the next pass over this consumer's pending entries starts
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            try:
                if not self.joined:
                    await self.ensure_group()
                if self._retry_own_at is not None and time.monotonic() >= self._retry_own_at:
                    self._retry_own_at, own_pending = None, "0"
                if own_pending is not None:
                    await self._quiesce()
                    own_pending = await self._drain_own_pending(own_pending)
                    continue
                if time.monotonic() >= self._next_claim:
                    await self._quiesce()
                    self._next_claim = time.monotonic() + self._s.claim_interval_s
                    if await self._reclaim():
                        continue
                await self._read_new()
                self._backoff.reset()
                self.last_error = None
            except Exception as exc:
                # A command the client gave up on may still have run: a read whose reply was lost
                # left its entries pending on this consumer with nobody working on them.
                own_pending = "0"
                await self._recover(exc)
        await self._quiesce()
        log.info("consumer %s stopped", self._name)

    async def _recover(self, exc: Exception) -> None:
        if isinstance(exc, ResponseError):
            if "NOGROUP" in str(exc):
                log.warning("consumer group vanished; recreating it")
                self.joined = False
                return
            await self._pause(f"redis error at {self._s.redis_address}", exc)
        elif isinstance(exc, TRANSIENT) and self._backoff.failures == 0:
            # A dropped connection is expected (Redis restarted, a proxy or CLIENT KILL closed it):
            # the first failure after a success only reconnects, as redis-py does for every other
            # command; one that repeats is reported and shown by /health.
            log.info("redis connection to %s dropped (%s); reconnecting", self._s.redis_address,
                     type(exc).__name__)
            await self._backoff.sleep(self._backoff.next_delay())
        elif isinstance(exc, TRANSIENT):
            self.joined = False
            await self._pause(f"redis unavailable at {self._s.redis_address}", exc)
        else:  # a bug must not kill the loop; liveness shows the last error
            log.exception("consumer loop error", exc_info=exc)
            await self._pause("unexpected error", exc)

    async def burst(self) -> None:
        """Handle everything available now (own pending, idle-reclaimable, new), then return.

        The loop's building blocks without the loop: for tests and one-shot tools.
        """
        await self.ensure_group()
        cursor: str | None = "0"
        while cursor is not None:
            cursor = await self._drain_own_pending(cursor)
        await self._reclaim()
        while True:
            reply = await self._redis.xreadgroup(
                self._keys.group, self._name, {self._keys.intent_stream: ">"}, count=self._s.read_batch_size)
            entries = _entries(reply)
            if not entries:
                return
            await self._handle([Delivery(eid, fields, 1) for eid, fields in entries])

    async def _handle(self, deliveries: list[Delivery]) -> None:
        keeper = asyncio.create_task(self._keep_claimed([d.entry_id for d in deliveries]))
        try:
            acked = await self._handler(deliveries)
        finally:
            keeper.cancel()
        if acked < len(deliveries) and self._retry_own_at is None:
            # some stay pending (same intent in flight elsewhere, unknown outcome): look again soon
            self._retry_own_at = time.monotonic() + self._s.pending_retry_s

    async def _keep_claimed(self, entry_ids: list[str]) -> None:
        """Every third of CLAIM_MIN_IDLE_MS, mark the entries in hand as not idle (until cancelled)."""
        period = self._s.claim_idle_ms / 3000
        while True:
            await asyncio.sleep(period)
            try:
                await self._keep(keys=[self._keys.intent_stream], args=[self._keys.group, self._name, *entry_ids])
            except RedisError as exc:  # Redis away: nobody can claim them either
                log.warning("could not keep %d entries in hand claimed: %s", len(entry_ids), type(exc).__name__)

    async def _pause(self, what: str, exc: BaseException) -> None:
        self.last_error = f"{what}: {type(exc).__name__}"
        delay = self._backoff.next_delay()
        log.warning("%s (%s); retrying in %.1fs", what, type(exc).__name__, delay)
        await self._backoff.sleep(delay)

    async def _read_new(self) -> None:
        """Read the next batch and hand it to a worker; up to BATCH_CONCURRENCY batches are in flight,
        so one batch's Python work overlaps another's Redis round trips."""
        await self._slots.acquire()
        try:
            reply = await self._reader.xreadgroup(
                self._keys.group, self._name, {self._keys.intent_stream: ">"},
                count=self._s.read_batch_size, block=self._s.read_block_ms)
        except BaseException:
            self._slots.release()
            raise
        entries = _entries(reply)
        if not entries:
            self._slots.release()
            return
        task = asyncio.create_task(self._work([Delivery(eid, fields, 1) for eid, fields in entries]))
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def _work(self, deliveries: list[Delivery]) -> None:
        try:
            await self._handle(deliveries)
        except Exception as exc:  # Redis went away mid-batch: its entries stay pending, retried later
            self.last_error = f"batch failed: {type(exc).__name__}"
            log.warning("batch of %d left pending: %s", len(deliveries), type(exc).__name__)
            self._retry_own_at = time.monotonic() + self._s.pending_retry_s
        finally:
            self._slots.release()

    async def _quiesce(self) -> None:
        """Wait for batches in flight: before reclaiming or re-reading pending entries, and at stop."""
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    async def _drain_own_pending(self, after: str) -> str | None:
        """Handle the next batch of entries this consumer holds unanswered, those after ``after``:
        given before a restart, by a read whose reply was lost, or left pending by a batch. Returns
        where the next batch starts, None once all were seen (each is seen once per pass)."""
        reply = await self._redis.xreadgroup(
            self._keys.group, self._name, {self._keys.intent_stream: after}, count=self._s.read_batch_size)
        listed = _entries(reply)
        entries = [(eid, fields) for eid, fields in listed if fields]
        if entries:
            counts = await self._delivery_counts([eid for eid, _ in entries], self._name)
            await self._handle([Delivery(eid, fields, counts.get(eid, 2)) for eid, fields in entries])
        return listed[-1][0] if len(listed) >= self._s.read_batch_size else None

    async def _reclaim(self) -> bool:
        """Claim entries idle past the threshold from any consumer; True when some were handled."""
        reply = await self._reader.xautoclaim(
            self._keys.intent_stream, self._keys.group, self._name, self._s.claim_idle_ms,
            start_id="0-0", count=self._s.read_batch_size)
        claimed = [(text(eid), fields) for eid, fields in reply[1] if fields]
        vanished = [text(eid) for eid, fields in reply[1] if not fields]
        if vanished:  # trimmed before anyone answered them: nothing left to execute
            log.error("acknowledging %d pending entries whose data was trimmed away", len(vanished))
            await self._redis.xack(self._keys.intent_stream, self._keys.group, *vanished)
        if len(reply[1]) >= self._s.read_batch_size:
            self._next_claim = 0.0  # more may be idle: keep claiming before reading new entries
        if not claimed:
            return False
        self._metrics.reclaimed.inc(len(claimed))
        counts = await self._delivery_counts([eid for eid, _ in claimed], self._name)
        log.info("reclaimed %d idle intent entries", len(claimed))
        await self._handle([Delivery(eid, fields, counts.get(eid, 2)) for eid, fields in claimed])
        return True

    async def _delivery_counts(self, ids: list[str], consumer: str) -> dict[str, int]:
        pending = await self._redis.xpending_range(
            self._keys.intent_stream, self._keys.group, min=ids[0], max=ids[-1], count=max(len(ids) * 4, 1000),
            consumername=consumer)
        return {text(p["message_id"]): int(p["times_delivered"]) for p in pending}


def _entries(reply: Any) -> list[tuple[str, dict[Any, Any]]]:
    if not reply:
        return []
    out: list[tuple[str, dict[Any, Any]]] = []
    for _stream, entries in reply:
        for eid, fields in entries:
            out.append((text(eid), fields or {}))
    return out
