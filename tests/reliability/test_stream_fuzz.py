"""Fuzzing the intent stream of a running service: every hostile entry gets exactly one result, the
service neither crashes nor stalls, and still fills a valid intent afterwards.

The decoder (app/models/intent.py, tested on its own) says whether an entry holds a valid intent;
entries that cannot hold one by construction must agree with it and come back REJECTED
INVALID_INTENT; the rest get a legitimate outcome, never a dead letter.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings

from app.config import load_settings
from app.models.intent import InvalidIntent, decode_fields
from app.redis_server import LocalRedis
from tests.reliability.entries import INVALID, Entry, hostile_entries
from tests.reliability.figures import record
from tests.reliability.invariants import KEYS, read_results
from tests.reliability.leaks import Secrets, find_leaks, logged_errors, pages, streams
from tests.reliability.workload import ResultTail
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish, publish_raw

EXAMPLES = 1000
MAX_BYTES = load_settings({}).max_intent_bytes
LEGITIMATE = {"FILLED", "PARTIALLY_FILLED", "NEW", "REJECTED"}


@pytest.fixture
def service(durable_redis: LocalRedis, secrets: Secrets) -> Iterator[ServiceProcess]:
    # Limits out of the way, so fuzzed intents that happen to be valid reach the (PAPER) venue.
    env = {**secrets.service_env(), "MAX_POSITION_USD": "1e12", "MAX_TOTAL_EXPOSURE_USD": "1e12",
           "PAPER_BALANCE_USD": "1e12", "MAX_ORDERS_PER_MINUTE": "0"}
    svc = ServiceProcess(durable_redis.url, name="fuzzed", env=env).start()
    yield svc
    svc.kill()


def test_every_hostile_entry_gets_one_result_and_the_service_carries_on(
        service: ServiceProcess, client: redis.Redis, secrets: Secrets) -> None:
    tail = ResultTail(client)
    published: list[str] = []
    kinds: Counter[str] = Counter()
    largest = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(entry=hostile_entries)
    def one_entry(entry: Entry) -> None:
        nonlocal largest
        kind, fields = entry
        entry_id = publish_raw(client, fields)
        published.append(entry_id)
        [(_id, stored)] = client.xrange(KEYS.intent_stream, entry_id, entry_id)
        largest = max(largest, sum(len(k) + len(v) for k, v in stored.items()))
        parsed = decode_fields(entry_id, stored, MAX_BYTES)
        result = tail.wait(entry_id)
        if kind == INVALID:
            assert isinstance(parsed, InvalidIntent), f"the decoder accepts an entry built to be invalid: {parsed}"
        if isinstance(parsed, InvalidIntent):
            kinds["invalid"] += 1
            assert (result["status"], result["reason"]) == ("REJECTED", "INVALID_INTENT"), result
            assert result["intent_id"] == parsed.intent_id
        else:
            kinds["valid"] += 1
            assert result["status"] in LEGITIMATE and result["reason"] not in ("INVALID_INTENT", "DEAD_LETTER"), result
            assert result["intent_id"] == parsed.intent_id
            # an intent_id drawn twice is answered with the first one's outcome, marked duplicate
            assert result["duplicate"] or result["symbol"] == parsed.symbol

    one_entry()

    final = publish(client, intent("XRPUSDT", "BUY", quantity=10))[0]
    assert tail.wait(final)["status"] == "FILLED", "the service no longer fills a valid intent"
    results = read_results(client)
    per_entry = Counter(r["intent_entry_id"] for r in results)
    assert set(per_entry) == {*published, final} and set(per_entry.values()) == {1}, \
        f"entries without exactly one result: {[e for e in published if per_entry[e] != 1][:5]}"
    assert client.xpending(KEYS.intent_stream, KEYS.group)["pending"] == 0
    assert service.process is not None and service.process.poll() is None, "the service died"
    assert service.get("/livez").status_code == 200
    assert not logged_errors({service.name: service.logs()}), "a hostile entry made the service log an error"
    assert not find_leaks(secrets, {service.name: service.logs(), **pages(service), **streams(client)})
    outcomes: dict[str, Any] = dict(Counter(f"{r['status']}/{r['reason']}" for r in results).most_common())
    record("stream_fuzz", entries=len(published), decoded=dict(kinds), largest_entry_bytes=largest,
           outcomes=outcomes, dead_letters=client.xlen(KEYS.dlq_stream))
