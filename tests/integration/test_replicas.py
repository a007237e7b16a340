"""Several replicas on one Redis: risk limits under races, the kill switch, a crash mid-order."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

from tests.utils.reservations import sides
from tests.utils.service import ROOT
from tests.utils.streams import by_entry, intent, pending_count, publish, results, wait_results

TOKEN = "test-admin-token"


def test_three_replicas_racing_on_one_symbol_never_exceed_the_position_limit(services, sync) -> None:
    for n in range(3):
        services(f"r{n}", read_batch_size=1, max_position_usd=1000)
    # 0.002 BTC is ~190 USD at the PAPER price: five fit under 1000 USD, a sixth does not
    ids = publish(sync, *(intent("BTCUSDT", "BUY", quantity=0.002) for _ in range(40)))
    found = wait_results(sync, 40)
    grouped = by_entry(found)
    assert set(grouped) == set(ids) and all(len(v) == 1 for v in grouped.values())
    outcomes = Counter((r["status"], r["reason"]) for r in found)
    assert outcomes == {("FILLED", None): 5, ("REJECTED", "POSITION_LIMIT"): 35}
    assert len({r["consumer"] for r in found}) >= 2, "the replicas did not share the work"
    position = sync.hgetall("exec:position:BTCUSDT")
    assert float(position[b"qty"]) == 0.01
    assert sides(sync.hgetall("exec:risk:reserved")) == (0, 0)
    assert pending_count(sync) == 0


def _admin(service, state: str, token: str = TOKEN):
    return service.post("/admin/trading-state", json={"state": state},
                        headers={"Authorization": f"Bearer {token}"})


def _one(sync, body, before: int) -> dict:
    publish(sync, body)
    return wait_results(sync, before + 1)[-1]


def test_the_kill_switch_set_on_one_replica_holds_on_every_replica(services, sync) -> None:
    a = services("a", admin_token=TOKEN, read_batch_size=1)
    b = services("b", admin_token=TOKEN, read_batch_size=1)
    assert _one(sync, intent(quantity=0.004), 0)["status"] == "FILLED"

    assert _admin(a, "HALTED").json() == {"state": "HALTED", "previous": "ACTIVE"}
    publish(sync, *(intent(side=side, quantity=0.002) for side in ("BUY", "SELL") * 3))
    halted = wait_results(sync, 7)[1:]
    assert {(r["status"], r["reason"]) for r in halted} == {("REJECTED", "TRADING_HALTED")}

    assert _admin(b, "REDUCING").json()["state"] == "REDUCING"
    reduce = _one(sync, intent(side="SELL", quantity=0.002), 7)
    grow = _one(sync, intent(side="BUY", quantity=0.002), 8)
    assert reduce["status"] == "FILLED"
    assert (grow["reason"], "REDUCING" in grow["message"]) == ("TRADING_HALTED", True)

    assert _admin(a, "ACTIVE").status_code == 200
    assert _one(sync, intent(quantity=0.002), 9)["status"] == "FILLED"
    assert b.get("/health").json()["components"][3]["message"] == "trading state ACTIVE"


def test_admin_endpoints_refuse_missing_bad_or_disabled_tokens(services, sync) -> None:
    a = services("a", admin_token=TOKEN)
    no_token = a.post("/admin/trading-state", json={"state": "HALTED"})
    assert no_token.status_code == 401 and no_token.json()["error"] == "UNAUTHORIZED"
    bad = _admin(a, "HALTED", token="wrong")
    assert bad.status_code == 401 and TOKEN not in bad.text
    invalid = _admin(a, "PANIC")
    assert invalid.status_code == 422 and invalid.json()["error"] == "INVALID_REQUEST"
    disabled = services("b").post("/admin/trading-state", json={"state": "HALTED"},
                                  headers={"Authorization": "Bearer anything"})
    assert disabled.status_code == 403 and disabled.json()["error"] == "ADMIN_DISABLED"
    assert sync.get("exec:risk:trading_state") is None


# PAPER books orders inside the admission gate's script call, and settles those that fill in the
# same call; the doomed replica books without settling (as when the fill differs from the one
# prepared for) and dies right after.
CRASH_AFTER_SEND = """
import asyncio, os
from app.config import load_settings
from app.runtime import Runtime
from app.state.gate import Gate

book = Gate.admit_and_book
async def book_then_die(self, candidates, minute, venue, orders, ledger, settlements):
    await book(self, candidates, minute, venue, orders, ledger, [None] * len(candidates))
    os._exit(137)  # the order is at the venue; no result, no ack
Gate.admit_and_book = book_then_die

async def main():
    runtime = Runtime(load_settings())
    await runtime.start()
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_process_killed_between_order_and_ack_is_resolved_by_another_replica(services, sync, redis_url) -> None:
    [entry_id] = publish(sync, intent())
    env = {"REDIS_URL": redis_url, "CONSUMER_NAME": "doomed", "PATH": "/usr/bin:/bin"}
    doomed = subprocess.run([sys.executable, "-c", CRASH_AFTER_SEND], cwd=ROOT, env=env, timeout=60,
                            capture_output=True)
    assert doomed.returncode == 137, doomed.stderr.decode()[-2000:]
    assert int(sync.get("exec:paper:order_seq")) == 1 and results(sync) == []
    assert pending_count(sync) == 1

    services("survivor")
    [result] = wait_results(sync, 1)
    assert result["intent_entry_id"] == entry_id and result["status"] == "FILLED"
    assert result["consumer"] == "survivor" and result["exchange_order_id"] == "1"
    assert int(sync.get("exec:paper:order_seq")) == 1
    assert pending_count(sync) == 0


def test_sigterm_drains_work_in_flight_and_the_rest_is_answered_later(services, sync) -> None:
    ids = publish(sync, *(intent(side=("BUY", "SELL")[i % 2]) for i in range(3000)))
    first = services("first")
    deadline = time.monotonic() + 20
    while not results(sync) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.stop(timeout=15) == 0
    answered = len(results(sync))
    assert 0 < answered and pending_count(sync) == 0, "every entry read before SIGTERM was answered"
    assert "draining" in first.logs() and "stopped" in first.logs()

    services("second")
    grouped = by_entry(wait_results(sync, 3000, timeout=60))
    assert set(grouped) == set(ids) and all(len(v) == 1 for v in grouped.values())
