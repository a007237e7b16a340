"""The exactly-once invariants a run must leave behind, checked from outside the service.

Evidence comes from three places that must agree: the result stream (what producers were told),
the fake exchange (which orders really exist, per client order id) and Redis' books (positions,
reservations, the consumer group). The service's own counters are compared, never trusted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

import redis

from app.config import load_settings
from app.keys import Keys
from tests.fakes.binance_exchange import FakeExchange
from tests.utils.reservations import all_zero

KEYS = Keys.from_settings(load_settings({}))
FILLS = ("FILLED", "PARTIALLY_FILLED")
COUNTER_OF = {"FILLED": "filled", "PARTIALLY_FILLED": "filled", "NEW": "open", "REJECTED": "rejected",
              "FAILED": "failed"}
QUANTUM = Decimal("0.00000001")


@dataclass
class Tally:
    """What a run produced, for the assertions and for docs/reliability.md."""

    intents: int = 0
    results: int = 0
    orders: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)


def read_results(client: redis.Redis, stream: str = KEYS.result_stream) -> list[dict[str, Any]]:
    found, start = [], "-"
    while True:
        chunk = client.xrange(stream, min=start, count=5000)
        found += [json.loads(fields[b"data"]) for _id, fields in chunk]
        if len(chunk) < 5000:
            return found
        start = "(" + chunk[-1][0].decode()


def outcome(result: dict[str, Any]) -> str:
    return f"{result['status']}/{result['reason']}" if result["reason"] else result["status"]


def check_exactly_once(client: redis.Redis, entry_ids: Iterable[str], exchange: FakeExchange) -> Tally:
    """Assert every invariant; returns the figures of the run."""
    entry_ids = list(entry_ids)
    results = read_results(client)
    per_entry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        per_entry[result["intent_entry_id"]].append(result)

    unanswered = [e for e in entry_ids if e not in per_entry]
    assert not unanswered, f"{len(unanswered)} intent entries have no result, e.g. {unanswered[:5]}"
    strangers = set(per_entry) - set(entry_ids)
    assert not strangers, f"results for entries nobody published: {sorted(strangers)[:5]}"
    repeated = {e: [outcome(r) for r in rs] for e, rs in per_entry.items() if len(rs) != 1}
    assert not repeated, f"{len(repeated)} entries answered more than once, e.g. {list(repeated.items())[:5]}"
    duplicates = [r["intent_entry_id"] for r in results if r["duplicate"]]
    assert not duplicates, f"results marked duplicate although every intent_id is unique: {duplicates[:5]}"

    orders = list(exchange.orders)
    per_coid = Counter(o.client_order_id for o in orders)
    twice = {coid: n for coid, n in per_coid.items() if n > 1}
    assert not twice, f"{len(twice)} intents produced more than one order: {list(twice.items())[:5]}"
    filled = {r["client_order_id"]: r for r in results if r["status"] in FILLS}
    assert set(per_coid) == set(filled), (
        f"orders at the exchange without a fill result: {sorted(set(per_coid) - set(filled))[:5]}; "
        f"fill results without an order: {sorted(set(filled) - set(per_coid))[:5]}")
    wrong_qty = [o.client_order_id for o in orders
                 if _qty(o.executed) != _qty(filled[o.client_order_id]["executed_quantity"])]
    assert not wrong_qty, f"results whose executed quantity differs from the exchange's: {wrong_qty[:5]}"

    positions = _check_books(client, results, orders)
    _check_nothing_left(client, results)
    return Tally(intents=len(entry_ids), results=len(results), orders=len(orders),
                 outcomes=dict(Counter(outcome(r) for r in results).most_common()), positions=positions)


def _check_books(client: redis.Redis, results: list[dict[str, Any]], orders: list[Any]) -> dict[str, str]:
    """Positions in Redis (the books and the risk gate's view) equal the sum of fills, and the exchange's."""
    from_results: dict[str, Decimal] = defaultdict(Decimal)
    for r in results:
        if r["status"] in FILLS:
            from_results[r["symbol"]] += _qty(r["executed_quantity"]) * (1 if r["side"] == "BUY" else -1)
    from_exchange: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        from_exchange[o.symbol] += _qty(o.executed) * (1 if o.side == "BUY" else -1)
    books = {}
    for symbol in sorted(set(from_results) | set(from_exchange)):
        books[symbol] = (_qty(client.hget(KEYS.position(symbol), "qty") or 0),
                         _qty(client.hget(KEYS.risk_positions, symbol) or 0))
    expected = {s: (from_results[s], from_results[s]) for s in books}
    assert books == expected, f"positions in Redis {books} differ from the sum of fill results {expected}"
    assert dict(from_results) == dict(from_exchange), \
        f"fill results {dict(from_results)} differ from the exchange's orders {dict(from_exchange)}"
    return {s: str(q.normalize()) for s, q in from_results.items()}


def _check_nothing_left(client: redis.Redis, results: list[dict[str, Any]]) -> None:
    pending = client.xpending(KEYS.intent_stream, KEYS.group)["pending"]
    assert pending == 0, f"{pending} intent entries are still pending"
    group = next(g for g in client.xinfo_groups(KEYS.intent_stream) if g["name"].decode() == KEYS.group)
    last = client.xinfo_stream(KEYS.intent_stream)["last-generated-id"]
    assert group["last-delivered-id"] == last, "the group has not read every intent entry"
    inflight = client.smembers(KEYS.inflight)
    assert not inflight, f"{len(inflight)} intents still marked in flight, e.g. {sorted(inflight)[:5]}"
    reserved = client.hgetall(KEYS.reserved)
    assert all_zero(reserved), f"reservations left behind: {reserved}"
    counters = {k.decode(): int(v) for k, v in client.hgetall(KEYS.counters).items()}
    expected = Counter(COUNTER_OF[r["status"]] for r in results)
    assert {k: v for k, v in counters.items() if v} == dict(expected), \
        f"the service's counters {counters} disagree with the results {dict(expected)}"


def _qty(value: Any) -> Decimal:
    text = value.decode() if isinstance(value, bytes) else repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(QUANTUM)
