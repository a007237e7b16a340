"""The atomic admission gate in Redis (app/state/lua/gate.lua): one script call per batch.

For each intent, in order and atomically across replicas, the script decides: already answered,
duplicate of an executed intent id, in flight elsewhere, resumed after a crash, denied, or admitted
with its exposure reserved on its side (open orders count at their worst case: see
app/risk/checks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from app.codec import text
from app.keys import Keys
from app.risk.checks import Denial, Limits
from app.state.scripts import Scripts


class Verdict(StrEnum):
    DONE = "DONE"        # this stream entry already has its result: acknowledge only
    DUP = "DUP"          # the intent id was executed before: re-publish that outcome as a duplicate
    BUSY = "BUSY"        # another entry with this intent id is in flight: leave pending, retry later
    RESUME = "RESUME"    # this entry was admitted before a crash: resolve, never resend blindly
    DENY = "DENY"
    OK = "OK"
    ERR = "ERR"          # the script failed for this intent (a bug): leave pending, log


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: Verdict
    result_id: str | None = None
    result_json: str | None = None
    admitted: bool = False
    reason: str = ""
    message: str = ""
    reserved_qty: float = 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One intent as the gate sees it. ``delta_qty`` is side-signed (BUY +, SELL -); ``side`` is the
    order's, which an AMEND that shrinks an order needs (its delta then has the other sign)."""

    intent_id: str
    entry_id: str
    symbol: str
    side: str
    delta_qty: float
    price: float  # the order's value per unit for the limits: the worse of its limit and the market
    reduce_only: bool
    client_order_id: str
    precheck: Denial | None
    check_done: bool
    mark: float  # the market price, recorded for valuing this symbol's position in later exposure checks

    @property
    def reservation(self) -> float:
        """What admitting it reserves (side-signed): its delta when that adds to its side, else 0. An
        AMEND that shrinks an order reserves nothing and releases nothing: the venue may fill the
        old size until it confirms the change, and app/state/orders.py releases the difference then."""
        adds = self.delta_qty > 0 if self.side == "BUY" else self.delta_qty < 0
        return self.delta_qty if adds else 0.0

    def encode(self) -> bytes:
        return orjson.dumps([self.intent_id, self.entry_id, self.symbol, repr(self.delta_qty), repr(self.price),
                           self.precheck.reason.value if self.precheck else "",
                           self.precheck.message if self.precheck else "", int(self.reduce_only),
                           self.client_order_id, int(self.check_done), repr(self.mark), self.side])


ScriptPart = tuple[list[str], list[Any]]  # the KEYS and ARGV a Lua function of another module takes


@dataclass(frozen=True, slots=True)
class Booked:
    """One candidate's answer from the admitting-and-booking call."""

    admission: Admission
    booking: Any          # the venue's reply, 0 when nothing was booked
    settled: Any | None   # settle.lua's reply when it was settled in the same call


class Gate:
    def __init__(self, keys: Keys, scripts: Scripts, limits: Limits, ttl_s: int) -> None:
        self._keys = keys
        self._scripts = scripts
        self._limits = limits
        self._ttl = ttl_s

    async def admit(self, candidates: list[Candidate], minute: int) -> list[Admission]:
        """Admit ``candidates`` in order, in one script call (not in a pipeline: redis-py would first
        ask Redis whether the script exists, a second round trip)."""
        reply = await self._scripts.gate(keys=self._gate_keys(minute),
                                         args=[*self._gate_args(), *(c.encode() for c in candidates)])
        return self.parse(reply)

    async def admit_and_book(self, candidates: list[Candidate], minute: int, venue: ScriptPart,
                             orders: list[bytes], ledger: ScriptPart,
                             settlements: list[tuple[bytes, str, bytes, bytes] | None]) -> list[Booked]:
        """As ``admit``, and in the same atomic call each candidate admitted with an order
        (``orders[i]``, b"" for none) is booked by the venue's Lua function; when it fills and
        ``settlements[i]`` was prepared for that outcome, it is settled too. ``venue`` and
        ``ledger`` are the (KEYS, ARGV) of the booking and settlement functions."""
        parts = []
        for candidate, order, settlement in zip(candidates, orders, settlements):
            parts += (candidate.encode(), order, *(settlement or (b"", b"", b"", b"")))
        reply = await self._scripts.gate_paper(keys=[*self._gate_keys(minute), *venue[0], *ledger[0]],
                                               args=[*self._gate_args(), *venue[1], *ledger[1], *parts])
        return [Booked(_admission(admission), booking, settled or None) for admission, booking, settled in reply]

    async def claim(self, intent_id: str, entry_id: str) -> Admission:
        """Take ``intent_id`` in flight for an order action that needs no risk check (CANCEL,
        CANCEL_ALL): OK, RESUME (this entry took it before), BUSY (another entry has it) or DUP."""
        reply = await self._scripts.claim(keys=[self._keys.order(intent_id)], args=[entry_id, intent_id, self._ttl])
        return _admission(reply)

    def _gate_keys(self, minute: int) -> list[str]:
        k = self._keys
        return [k.trading_state, k.reserved, k.risk_positions, k.marks, k.order_rate(minute), k.inflight]

    def _gate_args(self) -> list[Any]:
        k, lim = self._keys, self._limits
        return [k.order(""), k.entry_done(""), repr(lim.max_position_usd), repr(lim.max_total_exposure_usd),
                lim.max_orders_per_minute, self._ttl]

    @staticmethod
    def parse(reply: Any) -> list[Admission]:
        return [_admission(item) for item in reply]


def _admission(item: list[Any]) -> Admission:
    parts = [text(p) for p in item]
    verdict = Verdict(parts[0])
    if verdict is Verdict.DONE:
        return Admission(verdict, result_id=parts[1])
    if verdict is Verdict.DUP:
        return Admission(verdict, result_json=parts[1])
    if verdict is Verdict.RESUME:
        return Admission(verdict, admitted=parts[1] == "OK", reason=parts[2], message=parts[3],
                         reserved_qty=float(parts[4]))
    if verdict is Verdict.DENY:
        return Admission(verdict, reason=parts[1], message=parts[2])
    if verdict is Verdict.ERR:
        return Admission(verdict, message=parts[1])
    return Admission(verdict, admitted=verdict is Verdict.OK)
