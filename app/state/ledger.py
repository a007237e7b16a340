"""Settlement: publish results and apply their state changes atomically (app/state/lua/settle.lua).

Per entry, the result, order record, position, trade, counters, the "entry answered" marker and the
XACK of the intent entry change together in one script call for the whole batch, so a crash leaves
each entry either fully settled or untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from app.codec import text
from app.config import Settings
from app.keys import Keys
from app.models.result import Result
from app.orders.events import event
from app.orders.machine import ExecutionType, Fill, Order
from app.orders.record import to_fields
from app.state.scripts import Scripts


@dataclass(slots=True)
class Settlement:
    result: Result
    counter: str
    record_order: bool
    release_qty: float = 0.0  # side-signed (BUY +, SELL -), released from the result's side
    fill_qty: float = 0.0
    fill_price: float = 0.0
    trade: dict[str, Any] | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)
    order: Order | None = None  # the order the venue answered for, as of its first event
    order_event: tuple[ExecutionType, Fill | None, str | None] | None = None  # that event: type, fill, reason
    now: float = 0.0

    def encode(self) -> tuple[bytes, str, bytes, bytes]:
        """settle.lua's meta, the result, the trade and the order's first event (b"" for none)."""
        r = self.result
        event_json, live = self._order_parts()
        meta = [r.intent_id, r.intent_entry_id, self.counter, r.symbol or "", repr(self.release_qty),
                repr(self.fill_qty), repr(self.fill_price), repr(r.fee), int(self.record_order), r.leverage or 1,
                [item for pair in self.extra_fields.items() for item in pair], *live, r.side or ""]
        return orjson.dumps(meta), r.model_dump_json(), orjson.dumps(self.trade) if self.trade else b"", event_json

    def _order_parts(self) -> tuple[bytes, list[Any]]:
        """The order's first event and, when it stays open, its live record (fields, then where it
        is indexed): the order's trace is the result's (the context it went out with)."""
        order = self.order
        if order is None or self.order_event is None:
            return b"", [[], []]
        traceparent = self.extra_fields.get("traceparent")
        kind, fill, reason = self.order_event
        first = orjson.dumps(event(order, kind, self.now, fill, reason, traceparent=traceparent))
        if order.status.final:
            return first, [[], []]
        order = replace(order, traceparent=traceparent)
        fields = [item for pair in to_fields(order).items() for item in pair]
        book = f"{order.price.normalize():f}" if order.order_type == "LIMIT" and order.price is not None else ""
        return first, [fields, [order.side, order.created_ms, book, order.expire_at_ms]]


class Ledger:
    def __init__(self, keys: Keys, scripts: Scripts, settings: Settings) -> None:
        self._keys = keys
        self._scripts = scripts
        self._maxlen = settings.stream_maxlen
        self._ttl = settings.idempotency_ttl_s
        self._history = settings.history_limit

    async def settle(self, settlements: list[Settlement], now_ms: int) -> list[tuple[str, str]]:
        """Settle every entry in one script call (not in a pipeline: redis-py would first ask Redis
        whether the script exists, a second round trip). Per entry: (OK | DONE | ERR, detail)."""
        parts = [part for s in settlements for part in s.encode()]
        reply = await self._scripts.settle(keys=self.script_keys(), args=[*self.script_args(now_ms), *parts])
        return self.parse(reply)

    def script_keys(self) -> list[str]:
        """KEYS of settle.lua's make_settle (K), also for scripts that settle as they go."""
        k = self._keys
        return [k.result_stream, k.reserved, k.risk_positions, k.positions_index, k.inflight, k.counters, k.trades,
                k.orders_recent, k.marks, k.intent_stream, k.order_stream, k.open_orders, k.expiries]

    def script_args(self, now_ms: int) -> list[Any]:
        """ARGV of settle.lua's make_settle (A)."""
        k = self._keys
        return [k.order(""), k.entry_done(""), k.position(""), self._maxlen, self._ttl, self._history, k.group, now_ms,
                k.live(""), k.book("")]

    @staticmethod
    def parse(reply: Any) -> list[tuple[str, str]]:
        """Per entry: (``OK`` | ``DONE``, result entry id) or (``ERR``, message)."""
        return [Ledger.outcome(item) for item in reply]

    @staticmethod
    def outcome(item: Any) -> tuple[str, str]:
        kind, detail = item
        return text(kind), text(detail)
