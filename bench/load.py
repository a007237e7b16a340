"""Driving a consumer: a backlog for throughput, an open-loop schedule for latency, RSS sampling."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

INTENTS, RESULTS = "trade.intent", "execution.result"
# PAPER's static BTCUSDT price: a resting order is priced off it.
MARKET_PRICE = json.loads((Path(__file__).resolve().parents[1] / "app" / "exchange" / "data"
                           / "paper_prices.json").read_text())["BTCUSDT"]
Body = Callable[[int], dict[str, object]]


def body(i: int) -> dict[str, object]:
    """Alternating BUY/SELL of 0.002 BTC: positions oscillate, every intent fills under default limits."""
    return {"intent_id": uuid.uuid4().hex, "symbol": "BTCUSDT", "side": "BUY" if i % 2 == 0 else "SELL",
            "quantity": 0.002, "leverage": 1, "source": "bench"}


def resting_body(i: int) -> dict[str, object]:
    """The same order as a LIMIT GTC 1% on the far side of the market, so it rests and stays open.

    1% is inside the PERCENT_PRICE bands of both bundled markets (USD-M ±5%, spot ×0.2–5), on the
    0.10 / 0.01 tick, and 0.002 × 94,050 = 188 USD clears both minimum notionals (100 and 5).
    """
    intent = body(i)
    price = MARKET_PRICE * (0.99 if intent["side"] == "BUY" else 1.01)
    return {**intent, "order_type": "LIMIT", "time_in_force": "GTC", "price": round(price, 1)}


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: a cost per intent that the machine's other
    load moves far less than it moves intents/s."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu_s(redis: aioredis.Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    p999_ms: float
    sent: int
    answered: int


async def open_loop_latency(url: str, rate: float, duration_s: float) -> Latency:
    """Send on a fixed schedule (not waiting for results) and time each intent to its result."""
    producer = aioredis.Redis.from_url(url)
    reader = aioredis.Redis.from_url(url)
    await producer.ping()  # connect first: a handshake is not the consumer's latency
    await reader.ping()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    total = int(rate * duration_s)
    cursor = (await reader.xrevrange(RESULTS, count=1) or [[b"0-0"]])[0][0]

    async def read() -> None:
        nonlocal cursor
        deadline = time.monotonic() + duration_s + 10
        while len(latencies) < total and time.monotonic() < deadline:
            reply = await reader.xread({RESULTS: cursor}, block=100, count=1000)
            now = time.perf_counter()
            for _stream, entries in reply or ():
                for entry_id, fields in entries:
                    cursor = entry_id
                    sent = sent_at.pop(json.loads(fields[b"data"])["intent_id"], None)
                    if sent is not None:
                        latencies.append((now - sent) * 1000)

    reading = asyncio.create_task(read())
    gc.disable()  # the harness's own collections would show up as the consumer's latency
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        intent = body(i)
        sent_at[intent["intent_id"]] = time.perf_counter()  # type: ignore[index]
        await producer.xadd(INTENTS, {"data": json.dumps(intent)})
    await reading
    gc.enable()
    await producer.aclose()
    await reader.aclose()
    q = statistics.quantiles(latencies, n=1000, method="inclusive")
    return Latency(round(statistics.median(latencies), 3), round(q[989], 3), round(q[998], 3), total, len(latencies))
