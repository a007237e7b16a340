"""Exchange faults under load: latency spikes (some beyond the request timeout), a 5xx after the order
was created on 10% of orders, then a 429 and a 418 ban with intents arriving while they are in force.

Invariants as everywhere, plus the fake's own record: no request arrived inside a Retry-After or
ban window except the one request that discovered the ban. The throttle and the ban are set while
the replicas are idle and discovered by one intent's request; the load is published once Redis
shows the pause every replica obeys, so the check is exact rather than a race with requests
already in flight.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis

from app.redis_server import LocalRedis
from tests.reliability.conftest import service_env
from tests.reliability.figures import record
from tests.reliability.invariants import KEYS, check_exactly_once, outcome, read_results
from tests.reliability.leaks import Secrets, find_leaks, logged_errors, pages, streams
from tests.reliability.workload import Producer, alternating, publish_all, wait_answered, wait_for
from tests.utils.chaos import Fleet, FlakyBinance

LOAD, DURING_WINDOW, AFTER_BAN = 3000, 500, 300
LOAD_RATE = 300.0                                       # intents/s: 10 s of load
REQUEST_TIMEOUT_S = 4.0
RECV_WINDOW_S = 5.0
# (from, until, latency of every request, extra latency of order creation) in seconds since the load
# started: slower but in time; orders created after the client gave up (found by look-up); requests
# arriving after their recvWindow (refused -1021: an order absent then is sent again)
SPIKES = ((1.0, 3.0, 0.3, 0.0), (4.0, 7.0, 0.0, REQUEST_TIMEOUT_S + 0.5), (8.0, 10.0, RECV_WINDOW_S + 2.0, 0.0))
THROTTLE_S, BAN_S = 2.0, 10.0


@pytest.mark.slow
def test_latency_5xx_429_and_418_under_load_keep_every_invariant_and_every_window(
        durable_redis: LocalRedis, client: redis.Redis, binance: FlakyBinance, secrets: Secrets) -> None:
    # Replicas hold entries far longer than CLAIM_MIN_IDLE_MS while requests are slow: they must keep
    # them, or a claimer's look-up would find no order yet and send another.
    env = service_env(binance, secrets, binance_request_timeout_s=REQUEST_TIMEOUT_S, max_intent_age_s=20,
                      claim_min_idle_ms=3000)
    fleet = Fleet(durable_redis.url, env, size=2).start()
    binance.fail_after_create_rate = 0.10

    def load(count: int) -> list[str]:
        return publish_all(client, alternating(count))

    def pause_set() -> bool:
        return bool(client.exists(KEYS.exchange_pause))

    try:
        producer = Producer(client, alternating(LOAD), LOAD_RATE)    # the load outlasts the spikes

        def spikes() -> None:
            producer.tick()
            now = time.monotonic() - producer.started
            binance.faults.latency_s, binance.order_latency_s = \
                next(((every, order) for a, b, every, order in SPIKES if a <= now < b), (0.0, 0.0))

        wait_answered(client, LOAD, tick=spikes)        # what the spikes left pending is resolved too
        binance.faults.latency_s = binance.order_latency_s = 0.0
        entry_ids = producer.entry_ids
        # requests the clients gave up on during a spike are still being answered: let them finish
        wait_for(lambda: all(r.status for r in binance.requests), "the fake answering every request")

        binance.throttle(retry_after_s=THROTTLE_S)      # the next request gets a 429
        entry_ids += load(1)
        wait_for(pause_set, "the 429 pausing every replica")
        throttled = load(DURING_WINDOW)
        entry_ids += throttled
        wait_answered(client, len(entry_ids))

        wait_for(lambda: not pause_set(), "the Retry-After pause ending")
        binance.ban(BAN_S)                              # every request gets a 418 until it ends
        banned = load(1)
        wait_for(pause_set, "the 418 pausing every replica")
        banned += load(DURING_WINDOW)
        entry_ids += banned
        wait_answered(client, len(entry_ids))
        wait_for(lambda: not pause_set(), "the ban ending", timeout=BAN_S + 60)
        entry_ids += load(AFTER_BAN)
        wait_answered(client, len(entry_ids))
        seen = {k: v for s in fleet.live for k, v in pages(s).items()}
    finally:
        binance.faults.latency_s = binance.order_latency_s = 0.0
        exit_codes = fleet.stop()
    assert exit_codes == [0, 0]

    tally = check_exactly_once(client, entry_ids, binance.exchange)
    by_entry = {r["intent_entry_id"]: outcome(r) for r in read_results(client)}
    refused = Counter(r.status for r in binance.requests if r.status in (418, 429))
    assert refused == {429: 1, 418: 1}, f"the service caused refusals of its own: {refused}"
    inside = binance.requests_in_windows()
    assert len(inside) == 1 and inside[0].status == 418, \
        f"requests inside a Retry-After or ban window: {[(r.method, r.path, r.status) for r in inside]}"
    ban_window = next(w for w in binance.windows if w.kind == "418")
    assert ban_window.start < inside[0].at < ban_window.end
    assert set(by_entry[e] for e in throttled) <= {"FILLED", "REJECTED/RATE_LIMITED"}
    assert set(by_entry[e] for e in banned) <= {"FILLED", "REJECTED/RATE_LIMITED"}
    assert by_entry[banned[0]] == "REJECTED/RATE_LIMITED", "the intent that met the ban did not say so"
    assert set(tally.outcomes) <= {"FILLED", "REJECTED/RATE_LIMITED", "FAILED/EXCHANGE_UNAVAILABLE"}
    injected = [r for r in binance.sent("POST", "/fapi/v1/order") if r.status == 503]
    assert injected, "no 5xx-after-create was injected"
    logs = fleet.logs()
    timeouts = sum(t.count("no response from the exchange before the request timeout; looking it up")
                   for t in logs.values())
    assert timeouts, "the slow-order spike met no order"
    assert not logged_errors(logs), f"exchange faults logged errors: {logged_errors(logs)[:3]}"
    assert not find_leaks(secrets, {**logs, **seen, **streams(client)})
    record("exchange_faults", replicas=2, intents=len(entry_ids), tally=tally,
           order_posts=len(binance.sent("POST", "/fapi/v1/order")), fivexx_after_create=len(injected),
           requests=len(binance.requests), refusals={str(k): v for k, v in refused.items()},
           requests_inside_windows=len(inside), windows=[(w.kind, round(w.end - w.start, 1)) for w in binance.windows],
           order_timeouts=timeouts,
           expired_order_posts=len([r for r in binance.sent("POST", "/fapi/v1/order") if r.code == -1021]),
           order_lookups=len(binance.sent("GET", "/fapi/v1/order")),
           throttled_outcomes=dict(Counter(by_entry[e] for e in throttled)),
           banned_outcomes=dict(Counter(by_entry[e] for e in banned)))
