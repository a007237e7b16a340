"""Counters, uptime and consumer-group figures, and the Prometheus exposition."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app import SERVICE_NAME, __version__
from app.api.deps import RuntimeDep
from app.api.errors import error_responses
from app.codec import iso_ms

router = APIRouter(tags=["status"])
COUNTER_NAMES = ("filled", "open", "rejected", "failed", "duplicates")


@router.get("/status", responses=error_responses(503))
async def status(runtime: RuntimeDep) -> dict[str, Any]:
    """Intents answered by every replica since this Redis was new, each intent entry once: `filled`
    (FILLED and PARTIALLY_FILLED), `open` (NEW), `rejected`, `failed`, and `duplicates` (an intent id
    answered before: its result re-published); `received` is their sum. `/metrics` counts the same
    outcomes per replica since it started: `execution_results_total` by status (duplicates apart)
    and `execution_duplicate_intents_total`."""
    counters = await runtime.store.counters()
    stats = await runtime.maintenance.tick()
    answered = {name: counters.get(name, 0) for name in COUNTER_NAMES}
    s = runtime.settings
    return {
        "service": SERVICE_NAME, "version": __version__, "mode": s.execution_mode.value, "market": s.binance_market.value,
        "consumer": s.consumer_name, "group": s.consumer_group, "intent_stream": s.intent_stream,
        "result_stream": s.result_stream, "started_at": iso_ms(runtime.started_at),
        "uptime_s": round(time.time() - runtime.started_at, 3),
        "received": sum(answered.values()), **answered,
        "trading_state": (await runtime.store.trading_state()).value,
        "consumer_lag": stats.lag, "pending": stats.pending, "stream_length": stats.length,
        "consumers": stats.consumers,
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
