"""Settlement: publish one result and apply its state changes atomically (app/state/lua/settle.lua).

The result, order record, position, trade, counters, the "entry answered" marker and the XACK of
the intent entry change in one script, so a crash leaves either all of them or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.client import Pipeline

from app.bus.keys import Keys
from app.config import Settings
from app.models.result import Result
from app.state.scripts import Scripts


@dataclass(slots=True)
class Settlement:
    result: Result
    counter: str
    record_order: bool
    release_qty: float = 0.0
    fill_qty: float = 0.0
    fill_price: float = 0.0
    trade: dict[str, Any] | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)


class Ledger:
    def __init__(self, keys: Keys, scripts: Scripts, settings: Settings) -> None:
        self._keys = keys
        self._scripts = scripts
        self._maxlen = settings.stream_maxlen
        self._ttl = settings.idempotency_ttl_s
        self._history = settings.history_limit

    async def queue(self, pipe: Pipeline, s: Settlement, now_ms: int) -> None:
        k, r = self._keys, s.result
        symbol = r.symbol or ""
        extra = [item for pair in s.extra_fields.items() for item in pair]
        await self._scripts.settle(
            keys=[k.entry_done(r.intent_entry_id), k.order(r.intent_id), k.result_stream, k.reserved,
                  k.risk_positions, k.position(symbol), k.positions_index, k.inflight, k.counters, k.trades,
                  k.orders_recent, k.marks, k.intent_stream],
            args=[r.intent_id, r.model_dump_json(exclude_none=False), s.counter, symbol, repr(s.release_qty),
                  repr(s.fill_qty), repr(s.fill_price), repr(r.fee), self._maxlen, self._ttl,
                  "1" if s.record_order else "0", json.dumps(s.trade) if s.trade else "", self._history,
                  now_ms, r.leverage or 1, k.group, r.intent_entry_id, *extra],
            client=pipe,
        )

    @staticmethod
    def parse(reply: Any) -> tuple[str, str]:
        """(``OK`` | ``DONE``, result entry id)."""
        if isinstance(reply, BaseException):
            raise reply
        kind, result_id = (p.decode() if isinstance(p, bytes) else p for p in reply)
        return kind, result_id
