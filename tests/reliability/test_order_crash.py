"""Crash: 1,000 resting orders followed to their end by three replicas, one SIGKILLed every ~2 s.

PAPER priced from a moving quote stream (partial fills from the quoted sizes), with cancels, amends
and expiries mixed in; every replica reads every quote. At the end a CANCEL_ALL closes what is
left. Checked from outside: every order has exactly one terminal event and contiguous seqs, its
cumulative quantity never goes down, each fill is booked once, positions equal the sum of the fills
the events report, and no reservation, open order or book entry is left behind.
`make soak` runs it longer (SOAK_ORDERS).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from jsonschema import Draft202012Validator

from app.redis_server import LocalRedis
from tests.reliability.figures import record
from tests.reliability.invariants import KEYS, read_results
from tests.reliability.leaks import Secrets, logged_errors
from tests.reliability.workload import publish_all, wait_answered, wait_for
from tests.utils.chaos import Fleet

DOCS = Path(__file__).resolve().parents[2] / "docs"
ORDERS = int(os.environ.get("SOAK_ORDERS", "1000"))
SEED = int(os.environ.get("SOAK_SEED", "20261207"))
RATE = 60              # intents/s offered: the run lasts ~20 s, ~10 kills
KILL_EVERY_S = (1.5, 2.5)
REPLICAS = 3
MARKET = {"BTCUSDT": (Decimal("95000"), Decimal("0.1"), Decimal("0.002")),   # mid, tick, order size
          "ETHUSDT": (Decimal("3500"), Decimal("0.01"), Decimal("0.05"))}
ENV = {"PAPER_PRICE_SOURCE": "stream", "PAPER_BALANCE_USD": "1000000000", "MAX_POSITION_USD": "1000000000",
       "MAX_TOTAL_EXPOSURE_USD": "1000000000", "MAX_ORDERS_PER_MINUTE": "0", "MAX_OPEN_ORDERS": "100000",
       "ORDER_SWEEP_INTERVAL_S": "0.2", "CLAIM_MIN_IDLE_MS": "3000", "MAX_DELIVERIES": "20"}


class Market:
    """A random walk of each symbol's mid, published as quotes showing a random size on each side."""

    def __init__(self, client: redis.Redis, rng: random.Random) -> None:
        self.client, self.rng = client, rng
        self.mids = {s: m for s, (m, _, _) in MARKET.items()}
        self.published = 0

    def step(self) -> None:
        for symbol, (_, tick, size) in MARKET.items():
            mid = self.mids[symbol] * (1 + Decimal(self.rng.uniform(-0.002, 0.002))).quantize(Decimal("1e-6"))
            self.mids[symbol] = mid
            half = tick * 5
            self.client.xadd(KEYS.quote_stream, {"data": json.dumps({
                "symbol": symbol, "bid": str((mid - half).quantize(tick)), "ask": str((mid + half).quantize(tick)),
                "bid_qty": str(size * self.rng.randint(1, 4)), "ask_qty": str(size * self.rng.randint(1, 4))})},
                maxlen=10_000, approximate=True)
            self.published += 1


def _workload(rng: random.Random, market: Market) -> list[dict[str, Any]]:
    """LIMIT orders 0.05-1.5% away from the market on either side; CANCELs and AMENDs of earlier ones."""
    bodies: list[dict[str, Any]] = []
    placed: list[tuple[str, str]] = []
    for n in range(ORDERS):
        symbol = rng.choice(sorted(MARKET))
        mid, tick, size = MARKET[symbol]
        side = rng.choice(("BUY", "SELL"))
        away = Decimal(rng.uniform(0.0005, 0.015))
        price = (mid * (1 - away if side == "BUY" else 1 + away)).quantize(tick)
        body = {"intent_id": f"o-{n}", "symbol": symbol, "side": side, "order_type": "LIMIT",
                "price": str(price), "quantity": str(size * rng.randint(1, 3))}
        if rng.random() < 0.1:
            body["expire_after_s"] = rng.uniform(1, 6)
        bodies.append(body)
        placed.append((body["intent_id"], symbol))
        if n > 20 and rng.random() < 0.15:
            bodies.append({"action": "CANCEL", "intent_id": f"c-{n}", "target_intent_id": rng.choice(placed)[0]})
        if n > 20 and rng.random() < 0.1:
            target, symbol = rng.choice(placed)
            mid, tick, size = MARKET[symbol]
            bodies.append({"action": "AMEND", "intent_id": f"a-{n}", "target_intent_id": target,
                           "quantity": str(size * rng.randint(1, 4))})
    return bodies


def _order_events(client: redis.Redis) -> dict[str, list[dict[str, Any]]]:
    per_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    start = "-"
    while chunk := client.xrange(KEYS.order_stream, min=start, count=5000):
        for _id, fields in chunk:
            event = json.loads(fields[b"data"])
            per_order[event["intent_id"]].append(event)
        start = "(" + chunk[-1][0].decode()
    return per_order


def _check_orders(client: redis.Redis, results: list[dict[str, Any]]) -> dict[str, Any]:
    per_order = _order_events(client)
    schema = Draft202012Validator(json.loads((DOCS / "schemas" / "order-event.schema.json").read_text()))
    wrong = [(e["event_id"], err.message) for events in per_order.values() for e in events
             for err in schema.iter_errors(e)]
    assert not wrong, f"events outside docs/schemas/order-event.schema.json: {wrong[:3]}"
    orders = {r["intent_id"] for r in results if r["action"] is None and r["status"] in ("NEW", "FILLED")}
    assert orders <= set(per_order), f"orders without events: {sorted(orders - set(per_order))[:5]}"
    filled: dict[str, Decimal] = defaultdict(Decimal)
    finals: dict[str, int] = defaultdict(int)
    for intent_id, events in per_order.items():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), f"{intent_id}: seq {events}"
        assert len({e["event_id"] for e in events}) == len(events)
        terminal = [e for e in events if e["status"] in ("FILLED", "CANCELED", "EXPIRED", "REJECTED")]
        assert len(terminal) == 1 and terminal[0] is events[-1], f"{intent_id}: terminal events {terminal}"
        finals[terminal[0]["status"]] += 1
        executed = [e["executed_quantity"] for e in events]
        assert executed == sorted(executed), f"{intent_id}: cumulative quantity went down: {executed}"
        trades = [e["trade_id"] for e in events if e["trade_id"]]
        assert len(trades) == len(set(trades)), f"{intent_id}: a trade booked twice: {trades}"
        booked = sum((Decimal(str(e["last_fill_quantity"])) for e in events if e["last_fill_quantity"]), Decimal(0))
        assert abs(booked - Decimal(str(events[-1]["executed_quantity"]))) < Decimal("1e-9"), intent_id
        sign = 1 if events[0]["side"] == "BUY" else -1
        filled[events[0]["symbol"]] += sign * booked
    for symbol in MARKET:
        qty = Decimal((client.hget(KEYS.position(symbol), "qty") or b"0").decode())
        assert abs(qty - filled[symbol]) < Decimal("1e-9"), f"{symbol}: position {qty} != fills {filled[symbol]}"
    return {"orders": len(per_order), "final": dict(finals),
            "fills": sum(1 for events in per_order.values() for e in events if e["last_fill_quantity"])}


@pytest.mark.slow
@pytest.mark.timeout(max(600, ORDERS // 2))
def test_sigkilled_replicas_follow_every_order_to_exactly_one_end(
        durable_redis: LocalRedis, client: redis.Redis, secrets: Secrets) -> None:
    rng = random.Random(SEED)
    market = Market(client, rng)
    market.step()  # a quote per symbol before the replicas start: they seed from it
    bodies = _workload(rng, market)
    fleet = Fleet(durable_redis.url, {**ENV, **secrets.service_env()}, size=REPLICAS, seed=SEED).start()
    started = time.monotonic()
    next_kill = started + rng.uniform(*KILL_EVERY_S)
    entry_ids: list[str] = []

    def chaos() -> None:
        nonlocal next_kill
        due = min(len(bodies), int((time.monotonic() - started) * RATE) + 20)
        if len(entry_ids) < due:
            entry_ids.extend(publish_all(client, bodies[len(entry_ids):due]))
        market.step()
        if time.monotonic() >= next_kill:
            fleet.kill_one()
            next_kill = time.monotonic() + rng.uniform(*KILL_EVERY_S)

    try:
        wait_answered(client, len(bodies), stall_s=180, tick=chaos,
                      why=lambda: "\n".join(s.logs()[-1500:] for s in fleet.live))
        duration = time.monotonic() - started
        fleet.wait_ready()
        entry_ids += publish_all(client, [{"action": "CANCEL_ALL", "intent_id": "close-all"}])
        wait_answered(client, len(entry_ids), stall_s=60)
        wait_for(lambda: client.zcard(KEYS.open_orders) == 0, "every order ended", timeout=60)
    finally:
        exit_codes = fleet.stop()
    assert exit_codes == [0] * REPLICAS, "a replica did not drain and exit cleanly after the run"

    results = read_results(client)
    per_entry: dict[str, int] = defaultdict(int)
    for result in results:
        per_entry[result["intent_entry_id"]] += 1
    assert set(per_entry) == set(entry_ids) and set(per_entry.values()) == {1}, "one result per intent entry"
    by_id = {r["intent_id"]: r for r in results}
    figures = _check_orders(client, results)
    per_order = _order_events(client)
    for result in results:
        if result["action"] == "CANCEL" and result["status"] == "CANCELED":
            last = per_order[result["target_intent_id"]][-1]
            assert (last["status"], last["cause_intent_id"]) == ("CANCELED", result["intent_id"])
    assert by_id["close-all"]["status"] == "CANCELED"
    reserved = {k.decode(): float(v) for k, v in client.hgetall(KEYS.reserved).items()}
    assert all(abs(q) < 1e-9 for q in reserved.values()), f"reservations left behind: {reserved}"
    assert all(client.zcard(k) == 0 for k in client.scan_iter(match=KEYS.book("*"))), "book entries left"
    assert client.zcard(KEYS.expiries) == 0
    assert not logged_errors(fleet.logs()), f"SIGKILLs logged errors: {logged_errors(fleet.logs())[:3]}"
    outcomes: dict[str, int] = defaultdict(int)
    for result in results:
        outcomes[f"{result['action'] or 'NEW'} {result['status']}/{result['reason']}"] += 1
    record("order-soak" if "SOAK_ORDERS" in os.environ else "order-crash", seed=SEED, replicas=REPLICAS, kills=fleet.kills, processes_started=len(fleet.history),
           duration_s=round(duration, 1), intents=len(entry_ids), quotes=market.published,
           outcomes=dict(sorted(outcomes.items())), **figures)
