"""Every key the service writes is bounded: it expires, or it has a cap the service keeps.

A real service runs a mix of intents (fills, risk and exchange refusals, a resting LIMIT order,
duplicates, invalid entries, a dead letter), in PAPER and in TESTNET against the fake Binance;
then every key in Redis is mapped to the app/keys.py name that builds it. A key no name builds,
or a name that neither expires nor has a cap below, fails the run: at a million intents a day a
record of 424 bytes without a bound is 0.42 GB more Redis every day.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from app.cli.quote import publish_quote
from app.config import Settings, load_settings
from app.exchange.base import Quote
from app.exchange.paper import bundled_rules
from app.exchange.quote_entry import QUOTE_STREAM_MAXLEN
from app.execution.settlements import COUNTERS
from app.keys import Keys, reserved_field
from app.state.orders import FINAL_COUNTERS
from tests.reliability.conftest import service_env
from tests.reliability.leaks import Secrets
from tests.reliability.workload import alternating, publish_all, wait_for
from tests.utils.chaos import FlakyBinance
from tests.utils.service import ServiceProcess
from tests.utils.streams import intent, publish_raw

NODE = 100  # a stream is trimmed by whole nodes of up to 100 entries (stream-node-max-entries)
RUN = {"STREAM_MAXLEN": "100", "HISTORY_LIMIT": "10", "MAX_DELIVERIES": "1", "PENDING_RETRY_S": "0.2"}

# Names whose keys expire: per intent, per minute, or a shared cache or pause.
EXPIRE = {"order", "entry_done", "paper_order", "paper_match", "order_rate", "rate_bucket", "exchange_pause",
          "exchange_info", "binance_leverage", "order_poll_lease", "order_poll_misses",
          "reconcile_lease", "reconcile_status",
          "user_stream_lease", "user_stream_live", "funding_seen"}

Check = Callable[[redis.Redis, str, Settings], str | None]  # what is wrong with the key, None when in bounds


def _at_most(what: str, size: Callable[[redis.Redis, str], int], cap: Callable[[Settings], int]) -> Check:
    def check(client: redis.Redis, key: str, s: Settings) -> str | None:
        n, limit = size(client, key), cap(s)
        return None if n <= limit else f"{what} {n} > {limit}"
    return check


def _within(what: str, members: Callable[[redis.Redis, str], set[str]],
            allowed: Callable[[Settings], set[str]]) -> Check:
    def check(client: redis.Redis, key: str, s: Settings) -> str | None:
        extra = members(client, key) - allowed(s)
        return f"{what} outside the bound: {sorted(extra)[:5]}" if extra else None
    return check


def _symbols(s: Settings) -> set[str]:
    return set(s.allowed_symbols)


def _reserved_fields(s: Settings) -> set[str]:
    return {reserved_field(sym, side) for sym in s.allowed_symbols for side in ("BUY", "SELL")}


def _wallet_fields(s: Settings) -> set[str]:
    rules = bundled_rules(s.binance_market)
    assets = {r.base_asset for r in rules.values()} | {r.quote_asset for r in rules.values()}
    return {"balance", "locked"} | {f"{p}:{sym}" for p in "qem" for sym in s.allowed_symbols} | \
        {f"b:{asset}" for asset in assets}


def _strings(values: Any) -> set[str]:
    return {v.decode() for v in values}


def _open_orders_cap(s: Settings) -> int:
    """MAX_OPEN_ORDERS, passed by at most a batch per replica admitting at the same moment."""
    return s.max_open_orders + s.read_batch_size


def _live(client: redis.Redis, key: str, s: Settings) -> str | None:
    """An order's live record lives while it is open (their number capped), then IDEMPOTENCY_TTL_S."""
    intent_id = key.split(":live:", 1)[1]
    if client.ttl(key) >= 0 or client.zscore(Keys.from_settings(s).open_orders, intent_id) is not None:
        return None
    return "neither open nor expiring"


# Names whose keys do not expire, with the cap that bounds them (docs/performance.md, Redis memory).
CAPPED: dict[str, Check] = {
    "intent_stream": _at_most("entries", lambda c, k: c.xlen(k), lambda s: s.kept_intents + NODE),
    "result_stream": _at_most("entries", lambda c, k: c.xlen(k), lambda s: s.stream_maxlen + NODE),
    "dlq_stream": _at_most("entries", lambda c, k: c.xlen(k), lambda s: s.kept_intents + NODE),
    "order_stream": _at_most("entries", lambda c, k: c.xlen(k), lambda s: s.stream_maxlen + NODE),
    "open_orders": _at_most("open orders", lambda c, k: c.zcard(k), _open_orders_cap),
    "expiries": _at_most("open orders", lambda c, k: c.zcard(k), _open_orders_cap),
    "book": _at_most("open orders", lambda c, k: c.zcard(k), _open_orders_cap),
    "live": _live,
    # written by the user's feed, which adds with MAXLEN ~ as `python -m app quote` does (docs/configuration.md)
    "quote_stream": _at_most("entries", lambda c, k: c.xlen(k), lambda s: QUOTE_STREAM_MAXLEN + NODE),
    "trades": _at_most("trades", lambda c, k: c.llen(k), lambda s: s.history_limit),
    "orders_recent": _at_most("orders", lambda c, k: c.llen(k), lambda s: s.history_limit),
    "inflight": _at_most("intents in flight once all are answered", lambda c, k: c.scard(k), lambda s: 0),
    "counters": _within("counters", lambda c, k: _strings(c.hkeys(k)),
                        lambda s: set(COUNTERS.values()) | set(FINAL_COUNTERS.values()) |
                        {"duplicates", "canceled", "amended"}),
    "position": _within("symbol", lambda c, k: {k.rsplit(":", 1)[1]}, _symbols),
    "positions_index": _within("symbols", lambda c, k: _strings(c.smembers(k)), _symbols),
    "reserved": _within("fields", lambda c, k: _strings(c.hkeys(k)), _reserved_fields),
    "risk_positions": _within("symbols", lambda c, k: _strings(c.hkeys(k)), _symbols),
    "marks": _within("symbols", lambda c, k: _strings(c.hkeys(k)), _symbols),
    "paper_wallet": _within("fields", lambda c, k: _strings(c.hkeys(k)), _wallet_fields),
    # the assets of the account's wallet (ACCOUNT_UPDATE), and updated_ms
    "binance_balances": _at_most("fields", lambda c, k: c.hlen(k), lambda s: 50),
    "trading_state": _at_most("bytes", lambda c, k: c.strlen(k), lambda s: len("REDUCING")),
    "paper_order_seq": _at_most("bytes", lambda c, k: c.strlen(k), lambda s: 20),  # one integer
}


def unbounded(client: redis.Redis, settings: Settings) -> tuple[set[str], list[str]]:
    """The names of the keys found, and what is wrong: a key no name builds, one past its cap, one
    that should expire but does not, one of a name that neither expires nor has a cap."""
    names = Keys.from_settings(settings).patterns()
    seen, problems = set(), []
    for raw in client.scan_iter(count=1000):
        key = raw.decode()
        matches = [name for pattern, name in names.items() if fnmatch.fnmatchcase(key, pattern)]
        if len(matches) != 1:
            problems.append(f"{key}: built by {matches or 'no name in app/keys.py'}")
            continue
        [name] = matches
        seen.add(name)
        if name in EXPIRE:
            if client.ttl(key) < 0:
                problems.append(f"{key}: {name} keys must expire, this one does not")
        elif name in CAPPED:
            wrong = CAPPED[name](client, key, settings)
            if wrong:
                problems.append(f"{key}: {wrong}")
        else:
            problems.append(f"{key}: {name} neither expires nor has a cap")
    return seen, problems


def mix(client: redis.Redis, fills: int) -> int:
    """Publish fills and every other way an intent ends; how many entries that is."""
    bodies = alternating(fills)
    bodies += [intent("BTCUSDT", "BUY", quantity=1.0),                                   # POSITION_LIMIT
               intent("BTCUSDT", "BUY", quantity=0.0001),                                # EXCHANGE_FILTER
               intent("ETHUSDT", "BUY", quantity=0.01, order_type="LIMIT", price=3300.0),  # rests: NEW
               intent("ETHUSDT", "BUY", quantity=0.01, order_type="LIMIT", price=3300.0,
                      expire_after_s=0.5),                                               # rests, then EXPIRED
               intent("FOOUSDT", "BUY", quantity=1.0)]                                   # SYMBOL_NOT_ALLOWED
    bodies += [bodies[0], bodies[1]]                                                     # duplicates
    publish_all(client, bodies)
    publish_raw(client, {"data": "{not json"})
    publish_raw(client, {"data": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "quantity": -1})})
    return len(bodies) + 2


async def _quote(settings: Settings) -> None:
    """One quote as `python -m app quote` adds it, so the run has a quote stream to map."""
    client = aioredis.Redis.from_url(settings.redis_dsn)
    try:
        await publish_quote(client, settings.quote_stream, "BTCUSDT", Quote(Decimal("94000.1"), Decimal("94000.2")))
    finally:
        await client.aclose()


@pytest.fixture
def run_settings(redis_url: str) -> Iterator[Callable[..., Settings]]:
    yield lambda **env: load_settings({k: str(v) for k, v in {**RUN, **env}.items()}, redis_url=redis_url)


def _answered(client: redis.Redis, settings: Settings) -> int:
    """Entries answered, by the service's counters of results (the result stream is capped)."""
    answers = set(COUNTERS.values()) | {"duplicates", "canceled", "amended"}
    return sum(n for name, n in counters_of(client, settings).items() if name in answers)


def _finish(client: redis.Redis, service: ServiceProcess, entries: int, settings: Settings) -> None:
    wait_for(lambda: _answered(client, settings) >= entries, f"{entries} entries answered", timeout=60.0)
    wait_for(lambda: client.xlen(settings.intent_stream) <= settings.kept_intents + NODE,
             "maintenance trimming the intent stream", timeout=30.0)


def test_every_key_of_a_paper_run_expires_or_has_a_cap(
        services: Callable[..., ServiceProcess], sync: redis.Redis, run_settings: Callable[..., Settings]) -> None:
    sync.hset("exec:paper:wallet", mapping={"balance": "10000", "q:BNBUSDT": "corrupt"})  # BNB orders fail
    entries = mix(sync, fills=240)
    dead = publish_raw(sync, {"data": json.dumps(intent("BNBUSDT", "BUY", quantity=1.0))})  # -> dead letter
    service = services("bounds", **RUN)
    settings = run_settings()
    asyncio.run(_quote(settings))
    _finish(sync, service, entries + 1, settings)

    seen, problems = unbounded(sync, settings)
    assert not problems, "\n".join(problems)
    assert {"order", "entry_done", "paper_order", "order_rate", "intent_stream", "result_stream", "dlq_stream",
            "trades", "orders_recent", "counters", "position", "paper_wallet", "quote_stream"} <= seen
    assert sync.xrange(settings.dlq_stream)[0][1][b"dlq_entry_id"].decode() == dead
    wait_for(lambda: counters_of(sync, settings).get("orders_expired") == 1, "the order expiring", timeout=30.0)
    seen, problems = unbounded(sync, settings)
    assert not problems, "\n".join(problems)
    assert {"live", "open_orders", "book", "order_stream"} <= seen
    assert counters_of(sync, settings) == {"filled": 240, "rejected": 5, "open": 2, "duplicates": 2, "failed": 1,
                                           "orders_expired": 1}, "the mix ran"


def counters_of(client: redis.Redis, settings: Settings) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in client.hgetall(Keys.from_settings(settings).counters).items()}


def test_every_key_of_a_binance_run_expires_or_has_a_cap(
        services: Callable[..., ServiceProcess], sync: redis.Redis, run_settings: Callable[..., Settings],
        binance: FlakyBinance, secrets: Secrets) -> None:
    env = {**service_env(binance, secrets), **RUN}
    entries = mix(sync, fills=120)
    service = services("bounds", **env)
    settings = run_settings(**{k: v for k, v in env.items() if k.startswith(("EXECUTION", "BINANCE"))})
    _finish(sync, service, entries, settings)

    seen, problems = unbounded(sync, settings)
    assert not problems, "\n".join(problems)
    assert {"order", "entry_done", "rate_bucket", "exchange_info", "binance_leverage", "result_stream"} <= seen
