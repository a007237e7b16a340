"""Nothing reaches Binance inside a 429's Retry-After window: no kind of request, from no replica.

The defect (issue 13, item 5): a book-ticker request whose budget was taken just before another
task read a 429 went out after it, inside the window, and Binance answers that with an IP ban.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal
from typing import Any, Awaitable, Callable

import pytest

from app.exchange.base import OutcomeUnknown
from app.exchange.binance.adapter import BinanceAdapter, ExchangeUnavailable
from app.exchange.binance.errors import ExchangeFailure, Kind
from app.exchange.binance.markets import Endpoint
from app.models.result import Reason, Status
from app.orders.machine import AmendRejected
from tests.exchange.binance.conftest import MakeAdapter
from tests.exchange.binance.support import order
from tests.exchange.binance.test_changes import resting
from tests.fakes.binance_server import FakeBinance

WINDOW_S = 2.0
# A valid request of each kind, should one be sent; the window must stop them all the same.
PARAMS: dict[str, dict[str, Any]] = {
    "book_ticker": {"symbol": "BTCUSDT"}, "order_query": {"symbol": "BTCUSDT", "origClientOrderId": "ex-w-q"},
    "order_cancel": {"symbol": "BTCUSDT", "origClientOrderId": "ex-w-rest"},
    "leverage": {"symbol": "BTCUSDT", "leverage": 3}, "user_trades": {"symbol": "BTCUSDT", "orderId": 1},
}


def hold_after_admission(adapter: BinanceAdapter) -> tuple[asyncio.Event, asyncio.Event]:
    """The next request of ``adapter`` takes its budget, then waits for ``release`` before going on: the
    moment between the shared budget's answer and the socket, stretched so a 429 can land in it."""
    budget, admitted, release = adapter._budget, asyncio.Event(), asyncio.Event()
    acquire = budget.acquire

    async def held(*args: Any) -> Any:
        budget.acquire = acquire  # type: ignore[method-assign]
        denial = await acquire(*args)
        admitted.set()
        await release.wait()
        return denial

    budget.acquire = held  # type: ignore[method-assign]
    return admitted, release


async def test_a_request_admitted_before_a_429_was_read_is_not_sent_inside_its_window(
        make_adapter: MakeAdapter, fake: FakeBinance) -> None:
    adapter = await make_adapter()
    admitted, release = hold_after_admission(adapter)
    quote = asyncio.create_task(adapter.quote("BTCUSDT"))
    await admitted.wait()
    fake.throttle(retry_after_s=WINDOW_S)
    with pytest.raises(OutcomeUnknown):                             # this look-up meets the 429
        await adapter.query_order("BTCUSDT", "ex-w-first")
    release.set()
    with pytest.raises(ExchangeUnavailable) as refused:
        await quote
    assert refused.value.reason is Reason.RATE_LIMITED and "throttle by the exchange" in str(refused.value)
    assert fake.sent("GET", "/fapi/v1/ticker/bookTicker") == []
    assert fake.requests_in_windows() == []


async def _refused(call: Awaitable[Any]) -> str:
    """What one call came to while the window runs: a refusal, never a response from the fake."""
    try:
        result = await call
    except ExchangeFailure as failure:
        assert failure.error.kind is Kind.RATE_LIMIT and failure.sent_at_ms is None
        return "refused"
    except (ExchangeUnavailable, AmendRejected) as exc:
        assert exc.reason is Reason.RATE_LIMITED
        return "refused"
    except OutcomeUnknown:
        return "unknown"
    assert getattr(result, "status", None) is Status.REJECTED and result.reason is Reason.RATE_LIMITED, result
    return "refused"


def every_kind(adapter: BinanceAdapter, resting_order: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Each endpoint the adapter knows, straight through its transport, and each adapter operation."""
    transport, api = adapter._transport, adapter._api
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for field in dataclasses.fields(api):
        endpoint = getattr(api, field.name)
        if isinstance(endpoint, Endpoint):
            calls[f"endpoint {endpoint.name}"] = lambda e=endpoint: transport.call(
                e, time.monotonic() + 0.3, **PARAMS.get(e.name, {}))
    calls |= {
        "quote": lambda: adapter.quote("ETHUSDT"),
        "market order": lambda: adapter.place_order(order("ex-w-market")),
        "limit order": lambda: adapter.place_order(order("ex-w-limit", order_type="LIMIT", price=Decimal(60000),
                                                         leverage=7)),
        "query": lambda: adapter.query_order("BTCUSDT", "ex-w-rest"),
        "cancel": lambda: adapter.cancel_order(resting_order),
        "amend": lambda: adapter.amend_order(resting_order, Decimal(59000), None),
        "clock": lambda: transport.sync_clock(time.monotonic() + 0.3),
    }
    return calls


@pytest.mark.parametrize("market", ["usdm", "spot"])
async def test_no_kind_of_request_leaves_any_replica_inside_the_window(
        make_adapter: MakeAdapter, fake: FakeBinance, market: str) -> None:
    a = await make_adapter(binance_market=market, max_intent_age_s=1.0)
    b = await make_adapter(binance_market=market, max_intent_age_s=1.0)
    open_order = await resting(a, "ex-w-rest")
    fake.throttle(retry_after_s=WINDOW_S)
    with pytest.raises(ExchangeUnavailable):                        # a meets the 429 and tells every replica
        await a.quote("BTCUSDT")
    [window] = fake.windows
    arrived = len(fake.requests)
    outcomes = {}
    for name, replica in (("a", a), ("b", b)):
        for kind, call in every_kind(replica, open_order).items():
            outcomes[f"{name} {kind}"] = await _refused(call())
    assert time.monotonic() < window.end, "the calls outlasted the window: the check proves nothing"
    assert {k for k, v in outcomes.items() if v != "refused"} == {"a query", "b query"}   # OutcomeUnknown: ask later
    endpoints = {k.split(" ", 2)[2] for k in outcomes if k.startswith("b endpoint")}
    assert endpoints >= {"time", "exchange_info", "book_ticker", "order_create", "order_query", "order_cancel",
                         "order_amend", "account", "user_trades"} | ({"leverage"} if market == "usdm" else set())
    assert fake.requests[arrived:] == [] and fake.requests_in_windows() == []
    await asyncio.sleep(window.end - time.monotonic() + 0.05)
    assert (await b.quote("BTCUSDT")).bid > 0                       # after the window, requests flow again
    assert fake.requests_in_windows() == []
