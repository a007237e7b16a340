"""Positions, trades and orders as recorded in Redis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from app.api.deps import RuntimeDep
from app.api.errors import ApiError, error_responses

router = APIRouter(tags=["books"])
Limit = Query(100, ge=1, le=1000, description="How many, newest first")


@router.get("/positions", responses=error_responses(503))
async def positions(runtime: RuntimeDep) -> dict[str, Any]:
    rows = await runtime.store.positions()
    return {"positions": rows, "count": len(rows)}


@router.get("/trades", responses=error_responses(422, 503))
async def trades(runtime: RuntimeDep, limit: int = Limit) -> dict[str, Any]:
    rows = await runtime.store.trades(limit)
    return {"trades": rows, "count": len(rows)}


@router.get("/orders", responses=error_responses(422, 503))
async def orders(runtime: RuntimeDep, limit: int = Limit) -> dict[str, Any]:
    rows = await runtime.store.orders(limit)
    return {"orders": rows, "count": len(rows)}


@router.get("/orders/{intent_id}", responses=error_responses(
    404, 422, 503, meanings={404: "No order recorded for this intent_id (`ORDER_NOT_FOUND`)."}))
async def order(runtime: RuntimeDep, intent_id: str = Path(min_length=1, max_length=128)) -> dict[str, Any]:
    found = await runtime.store.order(intent_id)
    if found is None:
        raise ApiError(404, "ORDER_NOT_FOUND", f"no order recorded for intent_id {intent_id!r}")
    return found
