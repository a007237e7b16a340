"""Publishing intents and collecting results the way a producer and a downstream consumer would."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

INTENTS, RESULTS = "trade.intent", "execution.result"


def intent(symbol: str = "BTCUSDT", side: str = "BUY", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"intent_id": uuid.uuid4().hex, "symbol": symbol, "side": side}
    if "quantity" not in fields and "notional_usd" not in fields and "position_size_usd" not in fields:
        body["quantity"] = 0.002
    body.update(fields)
    return body


def publish(client: redis.Redis, *bodies: dict[str, Any], stream: str = INTENTS) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for body in bodies:
        pipe.xadd(stream, {"data": json.dumps(body)})
    return [i.decode() if isinstance(i, bytes) else i for i in pipe.execute()]


def publish_raw(client: redis.Redis, fields: dict[Any, Any], stream: str = INTENTS) -> str:
    entry_id = client.xadd(stream, fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def results(client: redis.Redis, stream: str = RESULTS) -> list[dict[str, Any]]:
    return [json.loads(fields[b"data"]) for _id, fields in client.xrange(stream)]


def wait_results(client: redis.Redis, count: int, timeout: float = 20.0, stream: str = RESULTS) -> list[dict[str, Any]]:
    """Wait until at least ``count`` results exist; fail with what arrived if they don't."""
    deadline = time.monotonic() + timeout
    while True:
        found = results(client, stream)
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) >= count, f"expected {count} results within {timeout}s, got {len(found)}"
    return found


def by_entry(found: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in found:
        grouped.setdefault(result["intent_entry_id"], []).append(result)
    return grouped


def pending_count(client: redis.Redis, group: str = "execution", stream: str = INTENTS) -> int:
    return int(client.xpending(stream, group)["pending"])
