"""`python -m bench.memory`: Redis memory per intent, by key, and what it comes to at a daily rate.

On a fresh redis-server the PAPER service answers a warm-up, then ``--intents`` more (alternating
BUY/SELL that all fill, as in ``make bench``). ``INFO memory`` before and after gives the bytes per
intent; ``MEMORY USAGE`` of every key, grouped by the app/keys.py name that builds it, says where
they went. Dropping the capped streams and lists leaves what every intent keeps for
IDEMPOTENCY_TTL_S: the part that grows with the daily rate. Results go to bench/out/memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
from collections import defaultdict

import redis.asyncio as aioredis

from app.config import load_settings
from app.keys import Keys
from app.redis_server import LocalRedis
from bench.__main__ import OUT, drain_rate, mark, publish_backlog, start_consumer

CAPPED = ("intent_stream", "result_stream", "dlq_stream", "trades", "orders_recent")


async def used(redis: aioredis.Redis) -> int:
    await redis.execute_command("MEMORY", "PURGE")
    return int((await redis.info("memory"))["used_memory"])


async def by_name(redis: aioredis.Redis, keys: Keys) -> dict[str, dict[str, int]]:
    """Keys and MEMORY USAGE bytes (exact: every element counted) per app/keys.py name."""
    patterns = keys.patterns()
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"keys": 0, "bytes": 0})
    async for raw in redis.scan_iter(count=1000):
        key = raw.decode()
        name = next((n for p, n in patterns.items() if fnmatch.fnmatchcase(key, p)), "?" + key)
        out[name]["keys"] += 1
        out[name]["bytes"] += int(await redis.memory_usage(key, samples=0) or 0)
    return dict(out)


async def measure(intents: int, per_day: float) -> dict[str, object]:
    settings = load_settings({})
    keys = Keys.from_settings(settings)
    with LocalRedis() as server:
        redis = aioredis.Redis.from_url(server.url)
        consumer, _ = start_consumer("service", server.url, None)
        try:
            start = await mark(redis)
            await publish_backlog(redis, 1000)
            await drain_rate(redis, start, 1000)
            before = await used(redis)
            start = await mark(redis)
            await publish_backlog(redis, intents)
            await drain_rate(redis, start, intents)
            after = await used(redis)
            names = await by_name(redis, keys)
        finally:
            consumer.terminate()
            consumer.wait(30)
        await redis.delete(*(pattern for pattern, name in keys.patterns().items() if name in CAPPED))
        kept = (await used(redis) - before) / intents
        await redis.aclose()
    days = settings.idempotency_ttl_s / 86400
    return {"intents": intents, "bytes_per_intent": round((after - before) / intents),
            "kept_per_intent_for_idempotency_ttl": round(kept), "idempotency_ttl_days": days,
            "per_day": per_day, "kept_at_steady_state_gb": round(kept * per_day * days / 1e9, 2),
            "by_name": {n: {**v, "bytes_per_key": round(v["bytes"] / v["keys"])} for n, v in sorted(names.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--intents", type=int, default=20_000)
    parser.add_argument("--per-day", type=float, default=1e6, help="daily rate for the steady-state figure")
    args = parser.parse_args()
    result = asyncio.run(measure(args.intents, args.per_day))
    for name, row in result["by_name"].items():  # type: ignore[union-attr]
        print(f"{name:<18}{row['keys']:>9} keys{row['bytes']:>13} B{row['bytes_per_key']:>10} B/key")
    print(f"{result['bytes_per_intent']} B per intent in all; {result['kept_per_intent_for_idempotency_ttl']} B "
          f"kept {result['idempotency_ttl_days']:g} days: {result['kept_at_steady_state_gb']} GB at "
          f"{args.per_day:,.0f} intents/day")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
