"""The kill switch: trading state ACTIVE / REDUCING / HALTED, shared by every replica via Redis."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import AdminAuth, AdminRoute, RuntimeDep
from app.api.errors import error_responses
from app.models.trading import TradingState

router = APIRouter(tags=["admin"], prefix="/admin", route_class=AdminRoute, dependencies=[AdminAuth],
                   responses=error_responses(401, 403, 503))
log = logging.getLogger(__name__)


class TradingStateChange(BaseModel):
    state: TradingState
    reason: str | None = None


@router.get("/trading-state")
async def get_state(runtime: RuntimeDep) -> dict[str, Any]:
    return {"state": (await runtime.store.trading_state()).value}


@router.post("/trading-state", responses=error_responses(400, 422))
async def set_state(change: TradingStateChange, runtime: RuntimeDep) -> dict[str, Any]:
    previous = await runtime.store.trading_state()
    await runtime.store.set_trading_state(change.state)
    runtime.metrics.set_trading_state(change.state.value)
    log.warning("trading state %s -> %s (%s)", previous.value, change.state.value, change.reason or "no reason given")
    return {"state": change.state.value, "previous": previous.value}
