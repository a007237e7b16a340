"""One replica's moving parts, built from settings and started/stopped by the API lifespan.

Start-up never blocks on Redis or the exchange: the consumer retries until they answer, and
/readyz says when the replica can take traffic. Stopping drains: the consumer finishes its batch
(results published, entries acknowledged) before connections close, within DRAIN_TIMEOUT_S; the
spans it produced are flushed last.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Iterable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from app.backoff import Backoff
from app.bus.consumer import StreamConsumer
from app.bus.maintenance import Maintenance
from app.config import Mode, Settings
from app.exchange.factory import build_exchange
from app.execution.lifecycle import OrderLifecycle
from app.execution.polling import OrderPolling
from app.execution.reconcile import reconcile_in_flight
from app.execution.reconciliation import Reconciliation
from app.execution.service import IntentProcessor
from app.execution.user_stream import UserStreamRunner
from app.keys import Keys
from app.state.scripts import Scripts
from app.state.store import Store
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing, tracing_from_env

log = logging.getLogger(__name__)
REDIS_MAX_CONNECTIONS = 100  # per client, per replica: redis-py's default, now waited for when all are busy


class _Pipeline(aioredis.client.Pipeline):
    """A pipeline that gives its connection back to the pool however ``execute`` fails.

    redis-py checks a pipeline's scripts (SCRIPT EXISTS) before the ``try`` that releases the
    connection: Redis failing at that moment left the connection in use for good, one fewer per
    blip, until the replica could no longer reach Redis at all. Kept while redis-py loads scripts
    outside that ``try``; tests/reliability/test_redis_outage.py (a pipeline failing mid SCRIPT
    EXISTS keeps no connection) fails if the library's behaviour or this constructor changes.
    """

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return await super().execute(raise_on_error)
        except BaseException:
            await self.reset()
            raise


class _Redis(aioredis.Redis):
    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> _Pipeline:
        return _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class _Writes:
    """Report a write on a connection uvloop has already closed as the dropped connection it is.

    Redis closing a connection (CLIENT KILL, a restart, a proxy) can leave redis-py holding a
    transport the event loop has closed. asyncio's transport then fails the write with
    ConnectionResetError, which redis-py turns into ConnectionError: retried on a new connection,
    or a transient fault to the consumer. uvloop raises RuntimeError instead (MagicStack/uvloop#506),
    which nothing retries: the consumer loop logged it as a bug. The same failure, the same answer.
    This overrides redis-py's private ``_send_packed_command``, the one place every write passes;
    tests/test_redis_client.py fails with uvloop's RuntimeError if a release stops calling it.
    """

    _writer: asyncio.StreamWriter | None

    async def _send_packed_command(self, command: Iterable[bytes]) -> None:
        try:
            await super()._send_packed_command(command)  # type: ignore[misc]
        except RuntimeError as exc:
            if self._writer is None or not self._writer.transport.is_closing():
                raise
            raise ConnectionResetError("Connection lost") from exc  # asyncio's words for it


_CONNECTIONS = {base: type(base.__name__, (_Writes, base), {})
                for base in (aioredis.Connection, aioredis.SSLConnection, aioredis.UnixDomainSocketConnection)}


def redis_client(settings: Settings, socket_timeout: float, retries: int = 1) -> aioredis.Redis:
    """A client whose commands wait for a free pooled connection rather than fail.

    The Binance adapter sends a batch's orders concurrently and each takes a connection for the
    rate budget; with redis-py's default pool the 101st raised "Too many connections", turning
    healthy orders into unknown outcomes left pending. A command that fails on its connection is
    sent again ``retries`` times on a new one.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_dsn, max_connections=REDIS_MAX_CONNECTIONS, timeout=socket_timeout,
        socket_timeout=socket_timeout, socket_connect_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries), health_check_interval=15,
    )
    pool.connection_class = _CONNECTIONS[pool.connection_class]
    return _Redis.from_pool(pool)


def stream_reader(settings: Settings, socket_timeout: float | None = None) -> aioredis.Redis:
    """The consumer's client for the commands that hand it entries (XREADGROUP of new ones, XAUTOCLAIM).

    Its own connections: a blocking read holds one for the block time, so the socket timeout is
    that plus 5 s. It never sends a command again: Redis may have run the first one after the
    client gave up on it (a stall longer than the timeout), and a second would hand out more
    entries while the first ones sat in this consumer's pending list with nobody working on them.
    The consumer takes up its pending entries after any failure instead.
    """
    timeout = settings.read_block_ms / 1000 + 5.0 if socket_timeout is None else socket_timeout
    return redis_client(settings, socket_timeout=timeout, retries=0)


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics | None = None, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.keys = Keys.from_settings(settings)
        self.metrics = metrics or Metrics(mode=settings.execution_mode.value)
        self.tracing = tracing or tracing_from_env(instance_id=settings.consumer_name)
        self.redis = redis_client(settings, socket_timeout=5.0)
        self.reader = stream_reader(settings)
        self.scripts = Scripts.register(self.redis)
        self.exchange = build_exchange(settings, self.redis, self.keys, self.scripts, self.metrics, self.reader)
        self.store = Store(self.redis, self.keys)
        self.orders = OrderLifecycle.build(settings, self.redis, self.keys, self.scripts, self.exchange, self.metrics,
                                           self.tracing)
        self.orders.follow_quotes()
        self.polling = OrderPolling(settings, self.redis, self.keys, self.orders, self.exchange, self.metrics)
        self.reconciliation = Reconciliation(settings, self.redis, self.keys, self.orders.book, self.exchange,
                                             self.store, self.metrics)
        stream = self.exchange.user_stream()
        self.user_stream = UserStreamRunner(settings, self.redis, self.keys, self.orders, self.polling, stream,
                                            self.metrics) if stream is not None else None
        if self.user_stream is not None:
            self.polling.wanted = self.user_stream.polling_wanted
        self.processor = IntentProcessor(settings, self.redis, self.keys, self.scripts, self.exchange, self.metrics,
                                         self.tracing, self.orders)
        self.consumer = StreamConsumer(settings, self.redis, self.reader, self.keys, self.processor.process,
                                       self.metrics)
        self.maintenance = Maintenance(settings, self.redis, self.keys, self.metrics,
                                       settings.maintenance_interval_s)
        self.started_at = time.time()
        self.exchange_started = False
        self.stopping = asyncio.Event()
        self._consumer_task: asyncio.Task[None] | None = None
        self._maintenance_task: asyncio.Task[None] | None = None
        self._reconcile_task: asyncio.Task[None] | None = None
        self._orders_task: asyncio.Task[None] | None = None
        self._polling_task: asyncio.Task[None] | None = None
        self._reconciliation_task: asyncio.Task[None] | None = None
        self._stream_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Start-up objects (modules, settings, clients) never die: keep them out of the collector's
        # full passes, which otherwise walk them all and show up as latency spikes.
        gc.collect()
        gc.freeze()
        self._consumer_task = asyncio.create_task(self._run(), name="consumer")
        self._maintenance_task = asyncio.create_task(self.maintenance.run(self.stopping), name="maintenance")
        self._orders_task = asyncio.create_task(self.orders.run(self.stopping), name="orders")

    async def _run(self) -> None:
        backoff = Backoff(self.stopping, base=0.5, cap=30.0)
        while not self.stopping.is_set() and not self.exchange_started:
            try:
                await self.exchange.start()
                self.exchange_started = True
                self._reconcile_task = asyncio.create_task(self._reconcile(), name="reconcile")
                if self.settings.execution_mode is not Mode.PAPER:  # PAPER makes its orders' changes itself
                    self._polling_task = asyncio.create_task(self.polling.run(self.stopping), name="order-polling")
                    self._reconciliation_task = asyncio.create_task(self.reconciliation.run(self.stopping),
                                                                    name="reconciliation")
                if self.user_stream is not None and self.settings.execution_mode is not Mode.PAPER:
                    self._stream_task = asyncio.create_task(self.user_stream.run(self.stopping), name="user-stream")
            except Exception as exc:  # credentials or venue not reachable yet: stay unready, retry
                delay = backoff.next_delay()
                log.warning("exchange start failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                await backoff.sleep(delay)
        if self.stopping.is_set():
            return
        self.metrics.consumer_up.set(1)
        try:
            await self.consumer.run()
        finally:
            self.metrics.consumer_up.set(0)

    async def _reconcile(self) -> None:
        """Report what the venue says of orders recorded in flight; redelivery then settles them.

        In the background: it is one look-up per order in flight on any replica (hundreds after a
        crash loop), and a report must not delay consuming.
        """
        try:
            await reconcile_in_flight(self.redis, self.keys, self.exchange)
        except Exception as exc:  # a report only: never keeps the consumer from starting
            log.warning("in-flight reconciliation skipped: %s", type(exc).__name__)

    def consumer_alive(self) -> bool:
        task = self._consumer_task
        if task is None or task.done():
            return False
        if not self.exchange_started:
            return True
        return time.monotonic() - self.consumer.heartbeat < self.settings.liveness_stall_s

    async def stop(self) -> None:
        log.info("draining: no new intents are read")
        self.stopping.set()
        self.consumer.stop()
        tasks = [t for t in (self._consumer_task, self._maintenance_task, self._orders_task, self._polling_task,
                             self._reconciliation_task, self._stream_task) if t is not None]
        done, pending = await asyncio.wait(tasks, timeout=self.settings.drain_timeout_s) if tasks else ((), ())
        for task in pending:
            log.error("drain timed out after %.0fs; cancelling %s", self.settings.drain_timeout_s, task.get_name())
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
            await asyncio.gather(self._reconcile_task, return_exceptions=True)
        self.processor.outcome_log.flush()
        await self.exchange.close()
        await self.reader.aclose()
        await self.redis.aclose()
        await asyncio.to_thread(self.tracing.shutdown)  # blocking: flushes queued spans to the collector
        log.info("stopped")
