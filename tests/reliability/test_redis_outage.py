"""Redis outage: Redis (AOF on, password set) is stopped for 10 s mid-run and started again on its port.

Readiness must go false and come back; liveness must stay true the whole time (a liveness probe
that followed Redis would restart every pod on one Redis hiccup); nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.config import load_settings
from app.runtime import redis_client

from app.redis_server import LocalRedis
from tests.reliability.conftest import service_env
from tests.reliability.figures import record
from tests.reliability.invariants import check_exactly_once
from tests.reliability.leaks import Secrets, find_leaks, logged_errors, pages, streams
from tests.reliability.workload import alternating, answered, publish_all, wait_answered, wait_for
from tests.utils.chaos import FlakyBinance, Fleet, Prober, durable_redis_server

BEFORE, AFTER = 6000, 1000
OUTAGE_S = 10.0


@pytest.mark.slow
def test_redis_stopped_for_ten_seconds_mid_run_loses_nothing_and_restarts_nothing(
        durable_redis: LocalRedis, client: redis.Redis, binance: FlakyBinance, secrets: Secrets) -> None:
    fleet = Fleet(durable_redis.url, service_env(binance, secrets, claim_min_idle_ms=5000), size=2).start()
    pids = [s.process.pid for s in fleet.live]
    entry_ids = publish_all(client, alternating(BEFORE))
    try:
        with Prober(fleet.live) as prober:
            wait_for(lambda: answered(client) >= BEFORE // 4, "a quarter of the intents answered")
            answered_before = answered(client)
            client.close()
            down = time.monotonic()
            durable_redis.stop()
            time.sleep(OUTAGE_S / 2)
            during = {k: v for s in fleet.live for k, v in pages(s, f"{s.name} during the outage").items()}
            time.sleep(OUTAGE_S / 2)
            durable_redis.start()
            up = time.monotonic()
            ready_again = wait_for(lambda: all(prober.statuses(s.name, "/readyz", start=up)[-1:] == [200]
                                                for s in fleet.live), "readiness after the outage")
            wait_answered(client, BEFORE, why=lambda: "\n".join(s.logs()[-1500:] for s in fleet.live))
            entry_ids += publish_all(client, alternating(AFTER, offset=BEFORE))
            wait_answered(client, BEFORE + AFTER)
        after = {k: v for s in fleet.live for k, v in pages(s).items()}
    finally:
        exit_codes = fleet.stop()

    for service in fleet.live:
        assert set(prober.statuses(service.name, "/livez")) == {200}, f"{service.name} was not live throughout"
        ready = prober.statuses(service.name, "/readyz")
        assert ready[0] == 200 and ready[-1] == 200, f"{service.name} readiness {ready[0]} -> {ready[-1]}"
        assert 503 in prober.statuses(service.name, "/readyz", start=down, end=up), \
            f"{service.name} stayed ready while Redis was down"
    assert [s.process.pid for s in fleet.live] == pids and len(fleet.history) == 2, "a replica was restarted"
    assert exit_codes == [0, 0]
    health = [json.loads(page.text) for label, page in during.items() if label.endswith("GET /health")]
    assert [h["components"][0]["status"] for h in health] == ["DOWN", "DOWN"], health
    failed = {label: page for label, page in during.items() if page.status not in (200, 503)}
    assert not failed, f"pages that did not answer 200 or 503 UNAVAILABLE while Redis was down: {failed}"
    errors = logged_errors(fleet.logs())
    assert not errors, f"an outage the service is built for logged errors: {errors[:3]}"
    tally = check_exactly_once(client, entry_ids, binance.exchange)
    assert tally.outcomes == {"FILLED": BEFORE + AFTER}
    assert not find_leaks(secrets, {**fleet.logs(), **during, **after, **streams(client)})
    record("redis_outage", replicas=2, intents=BEFORE + AFTER, answered_before_outage=answered_before,
           outage_s=round(up - down, 1), not_ready_s=round(ready_again - down, 1),
           readiness_after_restart_s=round(ready_again - up, 1), probes=len(prober.seen), tally=tally)


async def test_redis_failing_while_a_pipeline_checks_its_scripts_keeps_no_connection(secrets: Secrets) -> None:
    """The outage run logged "Unclosed Pipeline client": redis-py kept such a connection in use for
    good. Redis is paused so the pipeline's SCRIPT EXISTS is in flight when Redis dies."""
    server = durable_redis_server(secrets.redis_password).start()
    client = redis_client(load_settings({}, redis_url=server.url), socket_timeout=5.0)
    try:
        script = client.register_script("return 1")
        await client.ping()
        server.client().execute_command("CLIENT", "PAUSE", "10000", "ALL")
        pipe = client.pipeline(transaction=False)
        await script(keys=[], args=[], client=pipe)
        executing = asyncio.create_task(pipe.execute())
        await asyncio.sleep(0.3)
        server.process.kill()
        with pytest.raises(RedisConnectionError):
            await executing
        assert not client.connection_pool._in_use_connections, "a failed pipeline kept its connection"
    finally:
        await client.aclose()
        server.cleanup()
