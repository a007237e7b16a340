"""Positions and trades as recorded in Redis (orders: routes/orders.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from app.api.deps import RuntimeDep
from app.api.errors import error_responses

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
