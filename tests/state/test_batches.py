"""A batch script call answers per item: one failing item does not fail the others."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from app.config import Settings
from app.keys import Keys
from app.models.result import Result
from app.state.ledger import Ledger, Settlement
from app.state.scripts import Scripts


def settlement(entry_id: str, fill: float = 0.002) -> Settlement:
    result = Result(intent_id=f"i-{entry_id}", intent_entry_id=entry_id, status="FILLED", mode="PAPER",
                    symbol="BTCUSDT", side="BUY", executed_quantity=fill, avg_price=100.0, leverage=1,
                    received_at="2026-01-01T00:00:00.000Z", executed_at="2026-01-01T00:00:00.001Z", latency_ms=1.0)
    return Settlement(result, "filled", record_order=True, fill_qty=fill, fill_price=100.0)


async def test_one_broken_item_is_reported_alone(aredis: aioredis.Redis, settings: Settings) -> None:
    keys = Keys.from_settings(settings)
    scripts = Scripts.register(aredis)
    broken_meta, result_json, trade_json, event_json = settlement("1-0").encode()
    broken = json.loads(broken_meta)
    broken[5] = "not-a-number"  # the fill quantity: arithmetic on nil inside the script
    good = settlement("2-0").encode()
    ledger = Ledger(keys, scripts, settings)
    reply = await scripts.settle(keys=ledger.script_keys(),
                                 args=[*ledger.script_args(0), json.dumps(broken), result_json, trade_json, event_json,
                                       *good])
    (bad_kind, message), (good_kind, result_id) = Ledger.parse(reply)
    assert bad_kind == "ERR" and "arithmetic" in message
    assert good_kind == "OK" and await aredis.get(keys.entry_done("2-0")) == result_id.encode()
    assert await aredis.xlen(keys.result_stream) == 1
    assert float(await aredis.hget(keys.position("BTCUSDT"), "qty")) == 0.002
