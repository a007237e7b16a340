"""Redis drops the service's connections (CLIENT KILL, as a restart, a proxy or a failover does)
over and over while intents flow: every intent is answered once, and nothing is logged as an error.

A dropped connection is a fault the service is built for: redis-py re-sends on a new connection,
the consumer takes up its own pending entries, and /health is back to OK once Redis is.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Callable

import redis

from tests.reliability.leaks import logged_errors
from tests.reliability.workload import alternating, publish_all, wait_answered, wait_for
from tests.utils.service import ServiceProcess

KILLS = 40
PER_KILL = 25


def test_killed_connections_reconnect_quietly_and_lose_nothing(
        services: Callable[..., ServiceProcess], sync: redis.Redis) -> None:
    service = services("killed", max_orders_per_minute="0")
    bodies = alternating(KILLS * PER_KILL)
    for n in range(KILLS):
        publish_all(sync, bodies[n * PER_KILL:(n + 1) * PER_KILL])
        time.sleep(0.03 + (n % 5) * 0.02)  # mid-batch, idle, mid-read: anywhere
        sync.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    wait_answered(sync, len(bodies), stall_s=30.0, why=lambda: service.logs()[-3000:])

    results = [json.loads(fields[b"data"]) for _id, fields in sync.xrange("execution.result")]
    answers = Counter(r["intent_id"] for r in results)
    assert answers == Counter(b["intent_id"] for b in bodies), "every intent answered exactly once"
    assert {r["status"] for r in results} == {"FILLED"}, Counter(r["reason"] for r in results)
    logs = service.logs()
    assert not logged_errors({service.name: logs}) and "Traceback" not in logs, logs[-3000:]
    wait_for(lambda: _consumer(service)["status"] == "OK", "/health consumer OK again", timeout=10.0)


def _consumer(service: ServiceProcess) -> dict[str, object]:
    return next(c for c in service.get("/health").json()["components"] if c["name"] == "consumer")
