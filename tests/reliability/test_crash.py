"""Crash: three replicas answer 20,000 intents while a random one is SIGKILLed every ~2 s and restarted.

TESTNET against the fake Binance, so the exchange itself says how many orders each client order
id produced. `make soak` runs the same test longer (SOAK_INTENTS, SOAK_RATE, SOAK_SEED).
"""

from __future__ import annotations

import os
import random
import re
import time

import pytest
import redis

from app.redis_server import LocalRedis
from tests.reliability.conftest import service_env
from tests.reliability.figures import record
from tests.reliability.invariants import check_exactly_once
from tests.reliability.leaks import Secrets, find_leaks, logged_errors, pages, streams
from tests.reliability.workload import Producer, alternating, wait_answered
from tests.utils.chaos import Fleet, FlakyBinance

INTENTS = int(os.environ.get("SOAK_INTENTS", "20000"))
RATE = int(os.environ.get("SOAK_RATE", "1000"))         # intents/s offered: above what 3 replicas answer
SEED = int(os.environ.get("SOAK_SEED", "20240605"))
KILL_EVERY_S = (1.5, 2.5)
RUN = "soak" if "SOAK_INTENTS" in os.environ else "crash"
REPLICAS = 3


def _sum_logged(logs: dict[str, str], pattern: str) -> int:
    return sum(int(n) for text in logs.values() for n in re.findall(pattern, text))


@pytest.mark.slow
@pytest.mark.timeout(max(600, INTENTS // 20))
def test_sigkill_every_two_seconds_loses_no_intent_and_doubles_no_order(
        durable_redis: LocalRedis, client: redis.Redis, binance: FlakyBinance, secrets: Secrets) -> None:
    # Reclaim after 5 s idle: far above a batch's time here, so only dead replicas' entries are claimed.
    env = service_env(binance, secrets, claim_min_idle_ms=5000, claim_interval_s=0.5, max_deliveries=20)
    fleet = Fleet(durable_redis.url, env, size=REPLICAS, seed=SEED).start()
    rng = random.Random(SEED)
    producer = Producer(client, alternating(INTENTS), RATE)
    next_kill = producer.started + rng.uniform(*KILL_EVERY_S)

    def chaos() -> None:
        nonlocal next_kill
        producer.tick()
        if time.monotonic() >= next_kill:
            fleet.kill_one()
            next_kill = time.monotonic() + rng.uniform(*KILL_EVERY_S)

    try:
        wait_answered(client, INTENTS, stall_s=180, tick=chaos,
                      why=lambda: "\n".join(s.logs()[-1500:] for s in fleet.live))
        duration = time.monotonic() - producer.started
        fleet.wait_ready()
        seen = {k: v for s in fleet.live for k, v in pages(s).items()}
    finally:
        exit_codes = fleet.stop()
    assert exit_codes == [0] * REPLICAS, "a replica did not drain and exit cleanly after the run"

    tally = check_exactly_once(client, producer.entry_ids, binance.exchange)
    assert set(tally.outcomes) <= {"FILLED", "FAILED/DEAD_LETTER"}, tally.outcomes
    logs = fleet.logs()
    unknown = [line for text in logs.values() for line in text.splitlines() if "order outcome unknown" in line]
    assert not unknown, f"a healthy exchange left order outcomes unknown: {unknown[:3]}"
    assert not logged_errors(logs), f"SIGKILLs logged errors: {logged_errors(logs)[:3]}"
    assert not find_leaks(secrets, {**logs, **seen, **streams(client)})
    record(RUN, seed=SEED, replicas=REPLICAS, processes_started=len(fleet.history), kills=fleet.kills,
           duration_s=round(duration, 1), offered_rate_per_s=RATE, tally=tally,
           reclaimed_entries=_sum_logged(logs, r"reclaimed (\d+) idle intent entries"),
           resolved_after_redelivery=sum(text.count("resolved from the venue after redelivery") for text in logs.values()))
