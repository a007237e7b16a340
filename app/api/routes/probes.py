"""Probes and health: /livez never touches Redis; /readyz and /health do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app import SERVICE_NAME, __version__
from app.api.deps import RuntimeDep
from app.api.errors import error_body, error_responses
from app.config import Mode
from app.exchange.base import Health
from app.execution.reconciliation import status as reconciliation_status
from app.runtime import Runtime

router = APIRouter(tags=["probes"])
PING_TIMEOUT_S = 1.0


async def _reconciliation(runtime: Runtime, redis_ok: bool) -> dict[str, Any]:
    """TESTNET/LIVE: DEGRADED for a while after any replica's reconciliation found drift."""
    ok, message = False, "Redis is down: status unknown"
    if redis_ok:
        try:
            ok, message = await reconciliation_status(runtime.redis, runtime.keys, runtime.settings)
        except Exception as exc:  # Redis went away after the ping
            message = f"status unknown: {type(exc).__name__}"
    return {"name": "reconciliation", "status": "OK" if ok else "DEGRADED", "latency_ms": None, "message": message}


async def _ping(runtime: Runtime) -> tuple[bool, float | None, str]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(runtime.redis.ping(), PING_TIMEOUT_S)
    except Exception as exc:  # any failure means "not reachable now"
        return False, None, f"unreachable ({type(exc).__name__})"
    return True, round((time.perf_counter() - started) * 1000, 3), "reachable"


@router.get("/")
async def root(runtime: RuntimeDep) -> dict[str, Any]:
    return {"service": SERVICE_NAME, "version": __version__, "mode": runtime.settings.execution_mode.value,
            "market": runtime.settings.binance_market.value, "docs": "/docs"}


@router.get("/livez", responses=error_responses(503, meanings={
    503: "The consumer loop has stopped, or made no progress for LIVENESS_STALL_S (`STALLED`)."}))
async def livez(runtime: RuntimeDep) -> JSONResponse:
    if runtime.consumer_alive():
        return JSONResponse({"status": "alive"})
    return JSONResponse({"status": "stalled", **error_body("STALLED", "the consumer loop has stopped or made no "
                                                                      "progress within LIVENESS_STALL_S")},
                        status_code=503)


@router.get("/readyz", responses=error_responses(503, meanings={
    503: "Not ready (`NOT_READY`): `detail` names the checks that failed, `checks` has each."}))
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    redis_ok, _, redis_msg = await _ping(runtime)
    checks = {
        "redis": redis_ok,
        "consumer_group": runtime.consumer.joined,
        "exchange": runtime.exchange_started and runtime.exchange.ready(),
        "accepting": not runtime.stopping.is_set(),
    }
    ready = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
    if not ready:
        body.update(error_body("NOT_READY", ", ".join(name for name, ok in checks.items() if not ok) + " not ok"))
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/health", responses=error_responses(503, meanings={
    503: "Redis or the consumer is DOWN (`DOWN`): the health document, with `error` and `detail`."}))
async def health(runtime: RuntimeDep) -> JSONResponse:
    redis_ok, latency, redis_msg = await _ping(runtime)
    components = [{"name": "redis", "status": "OK" if redis_ok else "DOWN", "latency_ms": latency,
                   "message": redis_msg}]
    ex = runtime.exchange.health()
    ex_status = {Health.UP: "OK", Health.DEGRADED: "DEGRADED", Health.DOWN: "DOWN"}[ex.status]
    if not runtime.exchange_started and ex_status == "OK":
        ex_status = "DEGRADED"
    components.append({"name": "exchange", "status": ex_status, "latency_ms": None,
                       "message": ex.message or runtime.exchange.name, **({"details": ex.details} if ex.details else {})})
    consumer = runtime.consumer
    alive = runtime.consumer_alive()
    c_status = "DOWN" if not alive else "OK" if consumer.joined and not consumer.last_error else "DEGRADED"
    components.append({"name": "consumer", "status": c_status, "latency_ms": None,
                       "message": consumer.last_error or ("joined group" if consumer.joined else "joining group")})
    positions: list[dict[str, Any]] = []
    state = "UNKNOWN"
    if redis_ok:
        try:
            state = (await runtime.store.trading_state()).value
            positions = await runtime.store.positions()
        except Exception:  # Redis went away between the ping and these reads
            redis_ok = False
    components.append({"name": "risk", "status": "OK" if state == "ACTIVE" else "DEGRADED" if redis_ok else "DOWN",
                       "latency_ms": None, "message": f"trading state {state}"})
    if runtime.settings.execution_mode is not Mode.PAPER:
        components.append(await _reconciliation(runtime, redis_ok))
    statuses = {c["status"] for c in components}
    overall = "DOWN" if {"DOWN"} & {components[0]["status"], components[2]["status"]} else \
        "DEGRADED" if statuses - {"OK"} else "OK"
    body = {"service": SERVICE_NAME, "status": overall, "version": __version__,
            "mode": runtime.settings.execution_mode.value, "components": components,
            "active_positions": sum(1 for p in positions if p["qty"] != 0)}
    if overall == "DOWN":
        down = [c["name"] for c in components if c["status"] == "DOWN"]
        return JSONResponse({**body, **error_body("DOWN", ", ".join(down) + " down")}, status_code=503)
    return JSONResponse(body)
