"""`python -m app quote` as a user runs it, and a service with PAPER_PRICE_SOURCE=stream pricing from it."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D

import pytest
import redis
import redis.asyncio as aioredis

from app.cli.quote import publish_quote
from app.exchange.base import Quote
from app.exchange.quote_entry import QUOTE_STREAM_MAXLEN, decode_entry
from tests.cli.test_cli import cli

STREAM = "market.quotes"


def test_quote_publishes_one_entry_and_prints_its_id(redis_url: str, sync: redis.Redis) -> None:
    done = cli("quote", "btcusdt", "94000.1", "94000.2", "--bid-qty", "1.5", env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    [(entry_id, fields)] = sync.xrange(STREAM)
    assert done.stdout.strip() == entry_id.decode()
    assert json.loads(fields[b"data"]) == {"symbol": "BTCUSDT", "bid": 94000.1, "ask": 94000.2, "bid_qty": 1.5}
    assert decode_entry(fields) == ("BTCUSDT", Quote(D("94000.1"), D("94000.2"), bid_qty=D("1.5")))


def test_quote_goes_to_the_configured_stream(redis_url: str, sync: redis.Redis) -> None:
    done = cli("quote", "ETHUSDT", "3500", "3501", env={"REDIS_URL": redis_url, "QUOTE_STREAM": "feed.v2"})
    assert done.returncode == 0 and sync.xlen("feed.v2") == 1 and not sync.exists(STREAM)


@pytest.mark.parametrize(("args", "why"), [
    (("BTCUSDT", "94000.3", "94000.2"), "bid 94000.3 is above ask 94000.2"),
    (("BTCUSDT", "0", "1"), "bid must be a number from 0.000000000001 to 1000000000000000"),
    (("BTCUSDT", "-1", "1"), "bid must be a decimal number like 94000.1, got '-1'"),
    (("BTCUSDT", "1", "two"), "ask must be a decimal number like 94000.1, got 'two'"),
    (("BTC/USDT", "1", "2"), "symbol must be 2-20 characters of A-Z and 0-9, like BTCUSDT"),
    (("BTCUSDT", "1", "2", "--ask-qty", "0"), "ask_qty must be a number from 0.000000000001 to 1000000000000000"),
])
def test_invalid_quotes_are_refused_with_one_line_and_exit_2(args: tuple[str, ...], why: str, redis_url: str,
                                                            sync: redis.Redis) -> None:
    done = cli("quote", *args, env={"REDIS_URL": redis_url})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: invalid quote: {why}"]
    assert not sync.exists(STREAM)


def test_redis_that_does_not_answer_is_one_line_and_exit_2() -> None:
    done = cli("quote", "BTCUSDT", "1", "2", env={"REDIS_URL": "redis://:pw-secret@127.0.0.1:9/0"})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: redis unavailable: ") and "pw-secret" not in line


def test_quote_keeps_the_stream_bounded(redis_url: str, sync: redis.Redis) -> None:
    pipe = sync.pipeline(transaction=False)
    for _ in range(QUOTE_STREAM_MAXLEN + 300):
        pipe.xadd(STREAM, {"symbol": "BTCUSDT", "bid": "1", "ask": "2"})
    pipe.execute()

    async def one() -> None:
        client = aioredis.Redis.from_url(redis_url)
        await publish_quote(client, STREAM, "BTCUSDT", Quote(D(1), D(2)))
        await client.aclose()

    asyncio.run(one())
    assert QUOTE_STREAM_MAXLEN <= sync.xlen(STREAM) <= QUOTE_STREAM_MAXLEN + 100  # MAXLEN ~ trims whole nodes


def test_a_service_prices_market_orders_from_the_quotes_published(services, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url}
    assert cli("quote", "BTCUSDT", "80000", "80000.5", env=env).returncode == 0  # before start: seeded
    services("quotes", paper_price_source="stream")
    filled = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "0.002", "--expect-status", "FILLED",
                 env=env)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert json.loads(filled.stdout)["avg_price"] == 80008.5  # 80000.5 + 1 bp of slippage, to the 0.1 tick
    assert cli("quote", "BTCUSDT", "81000", "81000.5", env=env).returncode == 0
    again = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "0.002", env=env)
    assert json.loads(again.stdout)["avg_price"] == 81008.6  # 81000.5 * 1.0001 = 81008.60005
    unquoted = json.loads(cli("send", "--symbol", "ETHUSDT", "--side", "BUY", "--quantity", "0.01", env=env).stdout)
    assert (unquoted["status"], unquoted["reason"]) == ("FAILED", "EXCHANGE_UNAVAILABLE")
    assert "no quote for ETHUSDT on market.quotes yet" in unquoted["message"]
