"""A replica waiting on a slow exchange is alive: no other replica may take its intents over and send
their orders again.

CLAIM_MIN_IDLE_MS is how long an entry may sit unanswered before its replica is presumed dead. An
order that takes longer than that to be created, yet well within BINANCE_REQUEST_TIMEOUT_S and the
recvWindow, is no sign of death; if another replica claims the entry then, its look-up finds no
order yet and it sends a second one.
"""

from __future__ import annotations

import time

import pytest
import redis

from app.redis_server import LocalRedis
from app.state.scripts import source
from tests.reliability.conftest import service_env
from tests.reliability.invariants import KEYS, check_exactly_once
from tests.reliability.leaks import Secrets
from tests.reliability.workload import alternating, publish_all, wait_answered
from tests.utils.chaos import Fleet, FlakyBinance

ORDER_LATENCY_S = 4.0      # inside the request timeout (10 s) and the recvWindow (5 s)
CLAIM_MIN_IDLE_MS = 1500   # what the multi-process tests use; the default 30 s only widens the order window


@pytest.mark.slow
def test_an_order_slower_than_the_claim_threshold_is_still_sent_once(
        durable_redis: LocalRedis, client: redis.Redis, binance: FlakyBinance, secrets: Secrets) -> None:
    binance.order_latency_s = ORDER_LATENCY_S
    env = service_env(binance, secrets, claim_min_idle_ms=CLAIM_MIN_IDLE_MS, claim_interval_s=0.5)
    fleet = Fleet(durable_redis.url, env, size=2).start()
    try:
        entry_ids = publish_all(client, alternating(1))
        wait_answered(client, len(entry_ids))
    finally:
        assert fleet.stop() == [0, 0]      # drained: every order either replica started has been answered
    tally = check_exactly_once(client, entry_ids, binance.exchange)
    assert tally.outcomes == {"FILLED": 1}


def test_keeping_entries_claimed_resets_only_ones_own_and_counts_no_delivery(sync: redis.Redis) -> None:
    sync.xgroup_create(KEYS.intent_stream, KEYS.group, id="0", mkstream=True)
    mine = sync.xadd(KEYS.intent_stream, {"data": "{}"}).decode()
    sync.xreadgroup(KEYS.group, "me", {KEYS.intent_stream: ">"})
    theirs = sync.xadd(KEYS.intent_stream, {"data": "{}"}).decode()
    sync.xreadgroup(KEYS.group, "them", {KEYS.intent_stream: ">"})
    time.sleep(0.3)
    kept = sync.eval(source("keep_claimed.lua", with_library=False), 1, KEYS.intent_stream, KEYS.group, "me", mine, theirs, "0-1")
    pending = {p["message_id"].decode(): p for p in sync.xpending_range(KEYS.intent_stream, KEYS.group, "-", "+", 10)}
    assert kept == 1
    assert pending[mine]["time_since_delivered"] < 300 <= pending[theirs]["time_since_delivered"]
    assert (pending[mine]["consumer"], pending[theirs]["consumer"]) == (b"me", b"them")
    assert pending[mine]["times_delivered"] == pending[theirs]["times_delivered"] == 1
