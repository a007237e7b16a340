"""Orders: recent ones as recorded, open ones followed to their end, and withdrawing one (admin)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.api.deps import AdminAuth, AdminRoute, RuntimeDep
from app.api.errors import ApiError, error_responses
from app.orders.machine import OrderStatus
from app.orders.view import order_view
from app.runtime import Runtime

router = APIRouter(tags=["orders"])
admin = APIRouter(tags=["orders"], route_class=AdminRoute, dependencies=[AdminAuth],
                  responses=error_responses(401, 403, 503))
log = logging.getLogger(__name__)

HTTP_CANCEL = "HTTP_CANCEL"
IntentId = Path(min_length=1, max_length=128)
Limit = Query(100, ge=1, le=1000, description="How many, newest first (recent orders only)")
# Documented as an enum, checked here: any other value is answered 400 rather than FastAPI's 422.
Status = Query(None, json_schema_extra={"enum": ["open"]}, description=(
    "`open`: every order still open at the venue, oldest first, each as a `LiveOrder`. "
    "Without: the `limit` most recent order records."))
Symbol = Query(None, min_length=1, max_length=32,
               description="Only this symbol's orders (recent ones: among the `limit` newest)")
NOT_FOUND = {404: "No order recorded for this intent_id (`ORDER_NOT_FOUND`)."}


class LiveOrder(BaseModel):
    """An order the service follows until the venue says it is final (app/orders/view.py)."""

    intent_id: str
    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: str
    order_type: str
    price: float | None = Field(description="Limit price; null for MARKET.")
    quantity: float
    status: OrderStatus
    executed_quantity: float = Field(description="Filled so far (cumulative).")
    avg_price: float | None = Field(description="Average fill price; null before the first fill.")
    fee: float
    fee_asset: str | None
    seq: int = Field(description="Number of the order's last event on the order stream.")
    created_at: str = Field(description="UTC ISO 8601.")
    expire_at: str | None = Field(description="When `expire_after_s` expires it (UTC ISO 8601); null without.")
    mode: str


class OrderRecord(BaseModel):
    """An intent's order record, with its live order when the venue accepted one."""

    intent_id: str | None
    client_order_id: str | None
    symbol: str | None
    state: str | None = Field(description="OPEN while the submission is in flight, DONE once answered.")
    intent_entry_id: str | None
    result_id: str | None
    result: dict[str, Any] | None = Field(description="The result published for the intent.")
    order: LiveOrder | None = Field(None, description="The order as followed since, while its record is kept.")


@router.get("/orders", responses=error_responses(400, 422, 503, meanings={
    400: "`status` is not `open` (`INVALID_STATUS`)."}))
async def orders(runtime: RuntimeDep, limit: int = Limit, status: str | None = Status,
                 symbol: str | None = Symbol) -> dict[str, Any]:
    """`{"orders": [...], "count": n}`: the most recent order records (as `GET /orders/{intent_id}`
    without `order`), or with `status=open` the open orders, each a `LiveOrder`."""
    if status is None:
        rows = [r for r in await runtime.store.orders(limit) if symbol is None or r["symbol"] == symbol]
    elif status == "open":
        rows = [order_view(o) for o in await runtime.orders.book.open_orders(symbol)]
    else:
        raise ApiError(400, "INVALID_STATUS", f"status {status!r} is not supported: use status=open")
    return {"orders": rows, "count": len(rows)}


@router.get("/orders/{intent_id}", response_model=OrderRecord, responses=error_responses(
    404, 422, 503, meanings=NOT_FOUND))
async def order(runtime: RuntimeDep, intent_id: str = IntentId) -> dict[str, Any]:
    found = await runtime.store.order(intent_id)
    live = await runtime.orders.book.get(intent_id)
    if found is None and live is None:
        raise ApiError(404, "ORDER_NOT_FOUND", f"no order recorded for intent_id {intent_id!r}")
    if found is None:  # its record expired while the order stayed open
        found = {"intent_id": intent_id, "client_order_id": live.client_order_id, "symbol": live.symbol,
                 "state": None, "intent_entry_id": None, "result_id": None, "result": None}
    return {**found, "order": order_view(live) if live is not None else None}


@admin.delete("/orders/{intent_id}", response_model=LiveOrder, responses=error_responses(
    404, 409, 422, 503, meanings={**NOT_FOUND, 409: "The order is not open: already final, or never placed "
                                                "(`ORDER_NOT_OPEN`); `detail` says its status.",
                             503: "Redis is unavailable (`UNAVAILABLE`), or the venue did not confirm the cancel "
                                  "(`CANCEL_NOT_CONFIRMED`): the order is still open; retry later."}))
async def cancel(runtime: RuntimeDep, intent_id: str = IntentId) -> dict[str, Any]:
    """Withdraw an open order at the venue; the answer is the order afterwards: CANCELED, or FILLED
    when a fill got there first. The order stream gets the event, and its reservation is released."""
    await _ensure_open(runtime, intent_id)
    not_confirmed = ApiError(503, "CANCEL_NOT_CONFIRMED", f"the cancel of order {intent_id!r} was not confirmed; "
                                                          "retry", headers={"Retry-After": "1"})
    try:
        await runtime.orders.cancel([intent_id], HTTP_CANCEL)
    except (RedisConnectionError, RedisTimeoutError):
        raise
    except Exception as exc:  # the venue away, as for a CANCEL intent: the order stays open, the caller retries
        log.warning("order %s: cancel over HTTP not confirmed: %s", intent_id, type(exc).__name__)
        raise not_confirmed from exc
    after = await runtime.orders.book.get(intent_id)
    if after is None or not after.status.final:
        raise not_confirmed
    log.info("order %s %s over HTTP", intent_id, after.status.value)
    return order_view(after)


async def _ensure_open(runtime: Runtime, intent_id: str) -> None:
    """404 for an unknown intent, 409 naming the status of an order that is not open."""
    live = await runtime.orders.book.get(intent_id)
    if live is not None and not live.status.final:
        return
    if live is not None:
        raise ApiError(409, "ORDER_NOT_OPEN", f"order {intent_id!r} is already {live.status.value}")
    record = await runtime.store.order(intent_id)
    if record is None:
        raise ApiError(404, "ORDER_NOT_FOUND", f"no order recorded for intent_id {intent_id!r}")
    if record["result"] is None:
        raise ApiError(409, "ORDER_NOT_OPEN", f"order {intent_id!r} is not open yet: its submission is in flight")
    status = record["result"]["status"]
    raise ApiError(409, "ORDER_NOT_OPEN", f"order {intent_id!r} is not open: its result is {status}")
