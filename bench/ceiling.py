"""The ceiling: the same Redis work per intent as the service, with no service logic.

XREADGROUP a batch; per intent one idempotency write (SET NX), one position update (HINCRBYFLOAT)
and one result XADD; XACK the batch; all of it pipelined in one round trip per batch. The result
written is a real result document (docs/examples/result-filled.json with the intent's id), so the
ceiling moves the same bytes the service does.
Run as a consumer process: python -m bench.ceiling REDIS_URL
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from pathlib import Path

import redis.asyncio as aioredis

INTENTS, RESULTS, GROUP = "trade.intent", "execution.result", "execution"
TEMPLATE = json.loads((Path(__file__).resolve().parents[1] / "docs" / "examples" / "result-filled.json").read_text())


async def main(url: str, batch: int = 100) -> None:
    redis = aioredis.Redis.from_url(url)
    reader = aioredis.Redis.from_url(url)
    try:
        await redis.xgroup_create(INTENTS, GROUP, id="0", mkstream=True)
    except aioredis.ResponseError:
        pass
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        reply = await reader.xreadgroup(GROUP, "ceiling", {INTENTS: ">"}, count=batch, block=200)
        if not reply:
            continue
        entries = reply[0][1]
        pipe = redis.pipeline(transaction=False)
        for entry_id, fields in entries:
            intent = json.loads(fields[b"data"])
            pipe.set(f"exec:done:{entry_id.decode()}", "1", nx=True, ex=3600)
            pipe.hincrbyfloat("exec:position:BTCUSDT", "qty", intent["quantity"])
            result = {**TEMPLATE, "intent_id": intent["intent_id"], "intent_entry_id": entry_id.decode()}
            pipe.xadd(RESULTS, {"data": json.dumps(result)}, maxlen=1_000_000, approximate=True)
        pipe.xack(INTENTS, GROUP, *(entry_id for entry_id, _ in entries))
        await pipe.execute()
    await redis.aclose()
    await reader.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
