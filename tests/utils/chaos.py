"""Tools for breaking things on purpose: a Redis that can be stopped and started again with its data,
a fleet of service processes to SIGKILL, and a fake Binance that fails a share of its orders.

``durable_redis_server`` is app.redis_server's launcher with AOF and a password: a restart comes back on
the same port with the same password and reloads the append-only file, as a StatefulSet pod would.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import redis

from app.redis_server import LocalRedis
from tests.fakes.binance_exchange import FakeExchange, FakeOrder
from tests.fakes.binance_server import FakeBinance
from tests.utils.service import ServiceProcess

# Limits far above what two cores can send, so only injected faults ever throttle a run.
UNTHROTTLED_LIMITS = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1_000_000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100_000},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1_000_000},
)


def durable_redis_server(password: str) -> LocalRedis:
    """redis-server with AOF (fsync every second) and a password, restartable on the same port."""
    return LocalRedis(password=password, appendonly=True)


@dataclass
class Fleet:
    """Replicas of the service on one Redis; ``kill_one`` SIGKILLs a random one and starts its successor.

    A successor keeps the consumer name half the time (a container restarted in its pod) and takes
    a new one otherwise (a replacement pod), so both recovery paths run: re-reading one's own
    pending entries, and another replica claiming a dead consumer's.
    """

    redis_url: str
    env: dict[str, str]
    size: int = 3
    seed: int = 0
    live: list[ServiceProcess] = field(default_factory=list)
    history: list[ServiceProcess] = field(default_factory=list)
    kills: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def start(self) -> "Fleet":
        for n in range(self.size):
            self.live.append(self._spawn(f"replica-{n}"))
        for service in self.live:
            service.wait_ready(60)
        return self

    def _spawn(self, name: str) -> ServiceProcess:
        service = ServiceProcess(self.redis_url, name=name, env=dict(self.env))
        self.history.append(service)
        return service.start(wait_ready=False)

    def kill_one(self) -> ServiceProcess:
        """SIGKILL a random replica (wherever it is: starting, mid-batch, idle) and start its successor."""
        slot = self.rng.randrange(len(self.live))
        victim = self.live[slot]
        victim.kill()
        self.kills += 1
        self.generation += 1
        name = victim.name if self.rng.random() < 0.5 else f"replica-{slot}-g{self.generation}"
        self.live[slot] = self._spawn(name)
        return victim

    def wait_ready(self, timeout: float = 60.0) -> None:
        for service in self.live:
            service.wait_ready(timeout)

    def alive(self) -> bool:
        return all(s.process is not None and s.process.poll() is None for s in self.live)

    def stop(self) -> list[int]:
        """SIGTERM every live replica; their exit codes (0 after a clean drain)."""
        return [service.stop(timeout=60) for service in self.live]

    def kill_all(self) -> None:
        for service in self.live:
            service.kill()

    def logs(self) -> dict[str, str]:
        return {f"log of {s.name} (port {s.port})": s.logs() for s in self.history}


@dataclass(frozen=True)
class Probe:
    at: float          # time.monotonic()
    service: str
    path: str
    status: int        # 0: no HTTP answer at all


class Prober:
    """Polls probe endpoints of running services from a thread, the way a kubelet would."""

    def __init__(self, services: list[ServiceProcess], paths: tuple[str, ...] = ("/livez", "/readyz"),
                 interval_s: float = 0.2) -> None:
        self.services, self.paths, self.interval_s = list(services), paths, interval_s
        self.seen: list[Probe] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            while not self._stop.is_set():
                for service in self.services:
                    for path in self.paths:
                        try:
                            status = http.get(service.url + path).status_code
                        except httpx.HTTPError:
                            status = 0
                        self.seen.append(Probe(time.monotonic(), service.name, path, status))
                self._stop.wait(self.interval_s)

    def statuses(self, service: str, path: str, start: float = 0.0, end: float = float("inf")) -> list[int]:
        return [p.status for p in self.seen if p.service == service and p.path == path and start <= p.at <= end]


class _IndexedOrders(list[FakeOrder]):
    """The fake's order list, also indexed by client order id and order id (appends only)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_key: dict[tuple[str, str, object], tuple[int, FakeOrder]] = {}

    def append(self, order: FakeOrder) -> None:
        super().append(order)
        for key in ((order.market, order.symbol, "coid", order.client_order_id),
                    (order.market, order.symbol, "id", order.order_id)):
            self.by_key[key] = (len(self), order)


class IndexedExchange(FakeExchange):
    """FakeExchange whose look-ups are O(1): its own ``find`` scans every order, which makes a run of
    20,000 orders quadratic (minutes of CPU in the fake alone). Same answers: the latest match."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orders: _IndexedOrders = _IndexedOrders()

    def find(self, market: str, symbol: str, client_order_id: str | None = None,
             order_id: int | None = None) -> FakeOrder | None:
        hits = [self.orders.by_key.get((market, symbol, "coid", client_order_id)),
                self.orders.by_key.get((market, symbol, "id", order_id))]
        found = [hit for hit in hits if hit is not None and not hit[1].forgotten]
        return max(found, key=lambda hit: hit[0])[1] if found else None


class FlakyBinance(FakeBinance):
    """The fake Binance on an indexed exchange, answering a seeded random share of order POSTs with a
    5xx after creating the order, and optionally slow to create orders (other calls stay fast)."""

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("exchange", IndexedExchange())
        super().__init__(*args, **kwargs)
        self.rng = random.Random(seed)
        self.fail_after_create_rate = 0.0
        self.order_latency_s = 0.0       # after authentication: keep it inside recvWindow, as Binance would

    async def _new_order(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        if self.order_latency_s:
            await asyncio.sleep(self.order_latency_s)
        if self.fail_after_create_rate and self.rng.random() < self.fail_after_create_rate:
            self.faults.fail_after_create += 1   # consumed below by this very order: no await in between
        return await super()._new_order(market, p, h)
