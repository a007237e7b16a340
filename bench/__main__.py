"""`make bench`: the ceiling, the service, and the service with tracing, measured in one run.

Variants: ``ceiling`` (bench/ceiling.py), ``service`` (PAPER, tracing off), ``service+tracing``
(every intent traced by the service's own stack, OTLP/HTTP to a local sink), ``service+tracing10%``
(the same, sampling 10%), ``service+sdk`` / ``service+sdk10%``: the same two traced by the stock
OpenTelemetry SDK (bench/sdk_service.py), and ``service+orders``: the service with every backlog
intent a LIMIT GTC order that rests (bench/load.py's ``resting_body``), the cost of opening an order
against a MARKET fill; its latency phase sends MARKET intents, beside the 100k open orders.
Any variant may be suffixed ``@<git ref>`` (``service@53f75e0``): the consumer then runs from that
commit's tree (a temporary detached worktree, bench/revisions.py) with this harness and venv, so
before and after are measured in the same run on the same machine.

For each variant, on a fresh redis-server: a 50k-intent backlog is published, the consumer process
is started and drains it (sustained intents/s from the first result to the last); a second 50k
backlog gives RSS after 100k; then an open-loop load of 500 intents/s for 20 s gives latency
percentiles. Results print as a table (with what the OTLP sink received) and go to
bench/out/results.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from app.redis_server import LocalRedis, free_port
from bench.load import (INTENTS, RESULTS, Body, body, cpu_s, open_loop_latency, redis_cpu_s, resting_body,
                        rss_kib)
from bench.revisions import checkout

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
VARIANTS = ("ceiling", "service", "service+tracing", "service+tracing10%", "service+sdk", "service+sdk10%",
            "service+orders")
DEFAULT_VARIANTS = VARIANTS[:-1]
TRACED = ("service+tracing", "service+sdk")  # the variants that export to a local OTLP sink
# Bench entry points that run `python -m app serve` with one thing changed in-process.
ENTRIES = {"service+sdk": "bench.sdk_service", "service+sdk10%": "bench.sdk_service"}
# Two settings differ from the defaults so that 100k back-to-back orders all fill: the per-minute
# order cap and the PAPER wallet (fees of 100k trades exceed the default 10k USD balance).
SERVICE_ENV = {"MAX_ORDERS_PER_MINUTE": "0", "PAPER_BALANCE_USD": "1000000000", "LOG_LEVEL": "WARNING"}
# service+orders: both rounds' orders stay open (MAX_OPEN_ORDERS at its maximum), and the risk gate
# counts every open BUY and SELL at its worst case against the position and exposure limits.
RESTING_OPEN_ORDERS = 100_000
VARIANT_ENV = {"service+orders": {"MAX_OPEN_ORDERS": str(RESTING_OPEN_ORDERS), "MAX_POSITION_USD": "1e12",
                                  "MAX_TOTAL_EXPOSURE_USD": "1e12"}}
BACKLOG: dict[str, Body] = {"service+orders": resting_body}


async def publish_backlog(redis: aioredis.Redis, count: int, make: Body = body, chunk: int = 2000) -> None:
    for offset in range(0, count, chunk):
        pipe = redis.pipeline(transaction=False)
        for i in range(offset, min(count, offset + chunk)):
            pipe.xadd(INTENTS, {"data": json.dumps(make(i))})
        await pipe.execute()


def _ms(entry_id: bytes) -> int:
    return int(entry_id.split(b"-")[0])


async def mark(redis: aioredis.Redis) -> tuple[int, bytes]:
    """Where the result stream ends now: taken before a round's backlog is published."""
    last = await redis.xrevrange(RESULTS, count=1)
    return await redis.xlen(RESULTS), (last[0][0] if last else b"0-0")


async def drain_rate(redis: aioredis.Redis, before: tuple[int, bytes], expected: int,
                     timeout_s: float = 600) -> float:
    """Wait for this round's ``expected`` results; intents/s between its first and last result."""
    start_len, last_before = before
    deadline = time.monotonic() + timeout_s
    while await redis.xlen(RESULTS) < start_len + expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await redis.xlen(RESULTS) - start_len} of {expected} results")
        await asyncio.sleep(0.01)
    first = (await redis.xrange(RESULTS, min=b"(" + last_before, count=1))[0][0]
    last = (await redis.xrevrange(RESULTS, count=1))[0][0]
    return (expected - 1) / max((_ms(last) - _ms(first)) / 1000, 1e-3)


def start_consumer(variant: str, redis_url: str, otlp_port: int | None,
                   tree: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    """The variant's consumer process, running the code of ``tree`` (this checkout or another commit's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OTEL_"))}
    env["PYTHONPATH"] = str(tree)
    if variant == "ceiling":
        return subprocess.Popen([sys.executable, "-m", "bench.ceiling", redis_url], cwd=tree, env=env), ""
    port = free_port()
    env.update(SERVICE_ENV, **VARIANT_ENV.get(variant, {}), REDIS_URL=redis_url, PORT=str(port),
               HOST="127.0.0.1", CONSUMER_NAME=f"bench-{variant}")
    if otlp_port is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{otlp_port}"
    if variant.endswith("10%"):
        env.update(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
    process = subprocess.Popen([sys.executable, "-m", ENTRIES.get(variant, "app"), "serve"], cwd=tree, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return process, url


async def run_variant(variant: str, intents: int, rate: float, duration_s: float) -> dict[str, object]:
    base, _, ref = variant.partition("@")
    sink = None
    otlp_port = None
    if base.startswith(TRACED):
        otlp_port = free_port()
        sink = subprocess.Popen([sys.executable, "-m", "bench.otlp_sink", str(otlp_port)], cwd=ROOT)
    with ExitStack() as stack, LocalRedis() as server:
        tree = stack.enter_context(checkout(ROOT, ref)) if ref else ROOT
        redis = aioredis.Redis.from_url(server.url)
        make = BACKLOG.get(base, body)
        before = await mark(redis)
        await publish_backlog(redis, intents, make)
        consumer, _ = start_consumer(base, server.url, otlp_port, tree)
        try:
            rate_1 = await drain_rate(redis, before, intents)
            rss_1 = rss_kib(consumer.pid)
            before = await mark(redis)
            cpu_0 = cpu_s(consumer.pid), await redis_cpu_s(redis)  # round 2: the consumer starts idle
            await publish_backlog(redis, intents, make)
            rate_2 = await drain_rate(redis, before, intents)
            cpu_1 = cpu_s(consumer.pid), await redis_cpu_s(redis)
            rss_2 = rss_kib(consumer.pid)
            latency = await open_loop_latency(server.url, rate, duration_s)
            peak = rss_kib(consumer.pid, "VmHWM")
        finally:
            consumer.terminate()
            consumer.wait(30)  # the consumer flushes its queued spans as it stops
            exported = sink_stats(otlp_port) if sink is not None else {"requests": 0, "bytes": 0}
            if sink is not None:
                sink.terminate()
            await redis.aclose()
    return {"variant": variant, "intents_per_s": round(rate_1), "intents_per_s_round2": round(rate_2),
            "cpu_us_per_intent": round(1e6 * (cpu_1[0] - cpu_0[0]) / intents, 1),
            "redis_cpu_us_per_intent": round(1e6 * (cpu_1[1] - cpu_0[1]) / intents, 1),
            "latency_ms": latency.__dict__, "rss_mib_50k": round(rss_1 / 1024, 1),
            "rss_mib_100k": round(rss_2 / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
            "otlp_requests": exported["requests"], "otlp_bytes": exported["bytes"],
            "otlp_bytes_per_intent": round(exported["bytes"] / (2 * intents + latency.sent))}


def sink_stats(port: int | None) -> dict[str, int]:
    """What the OTLP sink received: requests and bytes."""
    return httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--intents", type=int, default=50_000, help="backlog per round (two rounds)")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop intents/s for latency")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of open-loop load")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, of {', '.join(VARIANTS)}; each may end in @<git ref>")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    variants = args.variants.split(",")
    for v in variants:
        if v.partition("@")[0] not in VARIANTS:
            parser.error(f"unknown variant {v!r}")
    if any(v.partition("@")[0] == "service+orders" for v in variants) and 2 * args.intents > RESTING_OPEN_ORDERS:
        parser.error(f"service+orders: 2 x --intents must stay within MAX_OPEN_ORDERS={RESTING_OPEN_ORDERS}")
    rows = [asyncio.run(run_variant(v, args.intents, args.rate, args.duration)) for v in variants]
    ceiling = next((r["intents_per_s"] for r in rows if r["variant"] == "ceiling"), None)
    print(f"{'variant':<24}{'intents/s':>10}{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}"
          f"{'RSS 50k':>9}{'RSS 100k':>10}{'peak':>7}{'CPU us/i':>10}{'Redis us/i':>11}{'OTLP req':>10}"
          f"{'OTLP B/intent':>15}")
    for r in rows:
        ratio = f"{r['intents_per_s'] / ceiling:.2f}" if ceiling else "-"
        lat = r["latency_ms"]
        print(f"{r['variant']:<24}{r['intents_per_s']:>10}{ratio:>7}{lat['p50_ms']:>9}{lat['p99_ms']:>9}"
              f"{lat['p999_ms']:>10}{r['rss_mib_50k']:>9}{r['rss_mib_100k']:>10}{r['peak_rss_mib']:>7}"
              f"{r['cpu_us_per_intent']:>10}{r['redis_cpu_us_per_intent']:>11}"
              f"{r['otlp_requests']:>10}{r['otlp_bytes_per_intent']:>15}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                   "cpus": os.cpu_count(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
