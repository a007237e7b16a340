"""Start-up reconciliation: what the exchange says about the orders we recorded as in flight.

An intent in ``keys.inflight`` had its order sent (or about to be) when a replica stopped. This
reads each order record, asks the exchange by client order id and logs and returns what it
reports. It publishes nothing: the intent's stream entry is still pending, and the pipeline
settles it from ``query_order`` when the entry is redelivered, so the result is published once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from app.codec import text
from app.exchange.base import ExchangeAdapter, ExecutionReport, OutcomeUnknown
from app.keys import Keys

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InFlight:
    intent_id: str
    client_order_id: str | None
    symbol: str | None
    local_state: str | None
    exchange: ExecutionReport | None = None   # None: the exchange has no such order (or it was not asked)
    error: str | None = None                  # why the exchange could not be asked or answer

    @property
    def found(self) -> bool:
        return self.exchange is not None


async def reconcile_in_flight(redis: aioredis.Redis, keys: Keys, exchange: ExchangeAdapter) -> list[InFlight]:
    """One entry per in-flight intent, in intent id order, with the exchange's view of its order."""
    ids = sorted(text(i) for i in await redis.smembers(keys.inflight))
    out = []
    for intent_id in ids:
        record = {text(k): text(v) for k, v in (await redis.hgetall(keys.order(intent_id))).items()}
        entry = await _check(intent_id, record, exchange)
        _log(entry)
        out.append(entry)
    return out


async def _check(intent_id: str, record: dict[str, str], exchange: ExchangeAdapter) -> InFlight:
    coid, symbol, state = record.get("client_order_id"), record.get("symbol"), record.get("state")
    if not coid or not symbol:
        return InFlight(intent_id, coid, symbol, state, error="order record has no client_order_id or symbol")
    try:
        report = await exchange.query_order(symbol, coid)
    except OutcomeUnknown as exc:
        return InFlight(intent_id, coid, symbol, state, error=str(exc))
    return InFlight(intent_id, coid, symbol, state, exchange=report)


def _log(entry: InFlight) -> None:
    if entry.error:
        log.warning("in-flight intent %s: not reconciled: %s", entry.intent_id, entry.error)
    elif entry.exchange is None:
        log.info("in-flight intent %s: order %s does not exist at the exchange (local state %s)",
                 entry.intent_id, entry.client_order_id, entry.local_state)
    else:
        log.info("in-flight intent %s: order %s is %s at the exchange, %s filled (local state %s)",
                 entry.intent_id, entry.client_order_id, entry.exchange.status, entry.exchange.executed_qty,
                 entry.local_state)


