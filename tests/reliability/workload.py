"""The intents the reliability runs publish, and waiting for their answers without trusting the clock.

Sides alternate per symbol so positions stay small and nearly every intent fills; every intent id
is unique, so any ``duplicate: true`` result is a bug. Waiting fails on a lack of progress (no new
result for ``stall_s``), never on speed.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

import redis

from tests.reliability.invariants import KEYS
from tests.utils.streams import publish

# Sizes above each symbol's USD-M minimum notional at the fake's prices (100, 20 and 5 USD).
SYMBOLS = (("BTCUSDT", 0.002), ("ETHUSDT", 0.01), ("SOLUSDT", 1.0))


def alternating(count: int, offset: int = 0, **fields: Any) -> list[dict[str, Any]]:
    out = []
    for n in range(offset, offset + count):
        symbol, quantity = SYMBOLS[n % len(SYMBOLS)]
        side = "BUY" if (n // len(SYMBOLS)) % 2 == 0 else "SELL"
        out.append({"intent_id": f"rel-{uuid.uuid4().hex}", "symbol": symbol, "side": side,
                    "quantity": quantity, **fields})
    return out


def publish_all(client: redis.Redis, bodies: list[dict[str, Any]], chunk: int = 1000) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(bodies), chunk):
        ids += publish(client, *bodies[start:start + chunk])
    return ids


class Producer:
    """Publishes ``bodies`` at ``rate`` per second, a little on every ``tick()`` (an open-loop producer)."""

    def __init__(self, client: redis.Redis, bodies: list[dict[str, Any]], rate: float) -> None:
        self.client, self.bodies, self.rate = client, bodies, rate
        self.entry_ids: list[str] = []
        self.started = time.monotonic()

    def tick(self) -> None:
        due = min(len(self.bodies), int((time.monotonic() - self.started) * self.rate) + 100)
        if len(self.entry_ids) < due:
            self.entry_ids += publish_all(self.client, self.bodies[len(self.entry_ids):due])


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120.0) -> float:
    """Poll until ``condition()`` holds; the moment it did (monotonic). A generous bound, not a speed check."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(0.02)
    return time.monotonic()


def answered(client: redis.Redis) -> int:
    return int(client.xlen(KEYS.result_stream))


def wait_answered(client: redis.Redis, count: int, stall_s: float = 120.0,
                  tick: Callable[[], None] | None = None, why: Callable[[], str] = str) -> None:
    """Until ``count`` results exist and nothing is pending; ``tick`` runs between polls."""
    seen, last_change = -1, time.monotonic()
    while True:
        done = answered(client)
        pending = client.xpending(KEYS.intent_stream, KEYS.group)["pending"]
        if done >= count and pending == 0:
            return
        if (done, pending) != seen:
            seen, last_change = (done, pending), time.monotonic()
        assert time.monotonic() - last_change < stall_s, (
            f"stalled: {done}/{count} results and {pending} pending, unchanged for {stall_s:.0f}s\n{why()}")
        if tick is not None:
            tick()
        time.sleep(0.05)


class ResultTail:
    """Follows the result stream (XREAD from the last id seen), keeping every result by intent entry id."""

    def __init__(self, client: redis.Redis, stream: str = KEYS.result_stream) -> None:
        self.client, self.stream = client, stream
        self.last = "0-0"
        self.by_entry: dict[str, list[dict[str, Any]]] = {}

    def wait(self, entry_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The first result for ``entry_id``; fails if none arrives within ``timeout`` (a stall)."""
        deadline = time.monotonic() + timeout
        while entry_id not in self.by_entry:
            assert time.monotonic() < deadline, f"no result for entry {entry_id} within {timeout:.0f}s: stalled"
            for _stream, entries in self.client.xread({self.stream: self.last}, count=1000, block=500) or []:
                for eid, fields in entries:
                    self.last = eid.decode()
                    result = json.loads(fields[b"data"])
                    self.by_entry.setdefault(result["intent_entry_id"], []).append(result)
        return self.by_entry[entry_id][0]
