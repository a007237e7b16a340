"""The PAPER venue: fills priced like the exchange, a wallet in Redis shared by every replica.

Orders are filtered with the same code as the Binance adapter, priced by app/exchange/fills.py and
booked atomically by paper_fill.lua (margin, balance, one order per client order id). It is a
GateBookedVenue: the pipeline books a batch's orders inside the admission gate's script call, so
admitting and filling cost one Redis round trip together.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from importlib import resources
from typing import Any, Sequence

import orjson
import redis.asyncio as aioredis

from app.codec import text
from app.config import Market, Settings
from app.exchange.base import ExchangeAdapter, ExecutionReport, OrderRequest, OutcomeUnknown, Quote, StagedOrder
from app.exchange.fills import SimulatedFill, simulate
from app.exchange.filters import SymbolRules, check_order, rules_from_exchange_info
from app.exchange.pricing import PriceSource
from app.keys import Keys
from app.models.result import Reason, Status
from app.orders.machine import ExecutionType, Order, OrderStatus, VenueUpdate
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics

FILTER_CODE = {Market.USDM: -4164, Market.SPOT: -1013}
ORDER_ENDPOINT = "order_create"
# The exchange latency metric's outcome labels, as the Binance transport writes them: "ok" for an
# accepted order (whatever its status), else the error kind of app/exchange/binance/errors.py.
_REJECTION_OUTCOMES = {Reason.EXCHANGE_FILTER: "filter", Reason.INSUFFICIENT_BALANCE: "balance"}
_UNKNOWN_SYMBOL = -1121


def bundled_rules(market: Market) -> dict[str, SymbolRules]:
    name = "exchange_info_usdm.json" if market is Market.USDM else "exchange_info_spot.json"
    info = json.loads((resources.files("app.exchange") / "data" / name).read_text())
    return rules_from_exchange_info(info)


class PaperExchange(ExchangeAdapter):
    name = "paper"

    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, scripts: Scripts,
                 prices: PriceSource, metrics: Metrics, rules: dict[str, SymbolRules] | None = None) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._prices = prices
        self._metrics = metrics
        self._market = settings.binance_market
        self._rules = rules if rules is not None else bundled_rules(self._market)
        self._fee_rate = Decimal(str(settings.fee_rate))
        self._maker_fee_rate = Decimal(str(settings.maker_fee_rate))
        self._slippage = Decimal(str(settings.paper_slippage_bps))

    async def start(self) -> None:
        await self._prices.start()
        self._metrics.exchange_up.set(1)

    async def close(self) -> None:
        await self._prices.close()

    @property
    def prices(self) -> PriceSource:
        """Where this venue's prices come from; a StreamQuotes takes listeners (``subscribe``)."""
        return self._prices

    async def rules(self, symbol: str) -> SymbolRules | None:
        return self._rules.get(symbol)

    async def quote(self, symbol: str) -> Quote:
        quote = await self._prices.quote(symbol)
        if quote is None:
            raise LookupError(self._no_price(symbol))
        return quote

    def _no_price(self, symbol: str) -> str:
        if self._settings.paper_price_source == "stream":
            return (f"no quote for {symbol} on {self._settings.quote_stream} yet: publish one "
                    f"(python -m app quote {symbol} BID ASK)")
        return f"no PAPER price for {symbol}: set PAPER_PRICES"

    async def place_order(self, request: OrderRequest) -> ExecutionReport:
        report = (await self.place_orders([request]))[0]
        if isinstance(report, BaseException):
            raise report
        return report

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[ExecutionReport | BaseException]:
        """Orders sent outside the gate (a redelivered intent whose order was not found): one script call."""
        started = time.perf_counter()
        outcomes = [await self.stage(req) for req in requests]
        staged = [o for o in outcomes if isinstance(o, StagedOrder)]
        replies: list[Any] = []
        if staged:
            try:
                replies = await self._scripts.paper_fill(
                    keys=self.script_keys(), args=[*self.script_args(), *(o.payload for o in staged)])
            except Exception as exc:  # Redis gone mid-call: these orders' outcomes are unknown
                replies = [OutcomeUnknown(f"PAPER venue unreachable: {type(exc).__name__}")] * len(staged)
        booked = iter(replies)
        elapsed = time.perf_counter() - started
        return [self.booked(o, next(booked), elapsed) if isinstance(o, StagedOrder) else o for o in outcomes]

    async def stage(self, request: OrderRequest) -> ExecutionReport | StagedOrder:
        outcome = await self._match(request)
        if isinstance(outcome, ExecutionReport):
            self._metrics.exchange_latency.labels(ORDER_ENDPOINT, _outcome(outcome)).observe(0.0)
            return outcome
        return StagedOrder(request, self._encode(request, outcome), outcome)

    async def number(self, resting: Sequence[ExecutionReport]) -> None:
        """Give orders that rest their ids at the venue, as Binance does: one INCRBY for a batch's."""
        if resting:
            last = await self._redis.incrby(self._keys.paper_order_seq, len(resting))
            for n, report in enumerate(resting):
                report.exchange_order_id = str(last - len(resting) + 1 + n)

    def script_keys(self) -> list[str]:
        return [self._keys.paper_wallet, self._keys.paper_order_seq]

    def script_args(self) -> list[Any]:
        return [self._keys.paper_order(""), self._market.value, self._settings.paper_balance_usd,
                self._settings.idempotency_ttl_s]

    def booked(self, staged: StagedOrder, reply: Any, elapsed_s: float) -> ExecutionReport | BaseException:
        report = _booked_reply(reply, staged.priced, staged.request, self._fee_asset(staged.request))
        self._metrics.exchange_latency.labels(ORDER_ENDPOINT, _outcome(report)).observe(elapsed_s)
        return report

    def expected(self, staged: StagedOrder, order_id: str) -> ExecutionReport:
        return _filled(staged.priced, self._fee_asset(staged.request), order_id)

    def _encode(self, req: OrderRequest, fill: SimulatedFill) -> bytes:
        signed = fill.quantity if req.side == "BUY" else -fill.quantity
        return orjson.dumps([req.client_order_id, req.symbol, self._rules[req.symbol].base_asset, str(signed),
                           str(fill.price), str(fill.fee), req.leverage, int(req.reduce_only), self._fee_asset(req)])

    async def cancel_order(self, order: Order) -> VenueUpdate:
        """PAPER's book is the service's: the cancel is the change itself, written atomically by the
        caller (app/state/orders.py), so a fill that got there first wins."""
        return VenueUpdate(ExecutionType.CANCELED, OrderStatus.CANCELED)

    async def amend_order(self, order: Order, price: Decimal | None, quantity: Decimal | None) -> VenueUpdate:
        """In place, as USD-M's modify order does (same order id, same place in the service's books)."""
        return VenueUpdate(ExecutionType.AMENDED, order.status, price=price, quantity=quantity)

    @property
    def maker_fee_rate(self) -> Decimal:
        return self._maker_fee_rate

    def fee_asset(self, symbol: str) -> str | None:
        rules = self._rules.get(symbol)
        return rules.quote_asset if rules else None

    def base_asset(self, symbol: str) -> str:
        return self._rules[symbol].base_asset

    async def query_order(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        stored = await self._redis.get(self._keys.paper_order(client_order_id))
        return None if stored is None else report_from_stored(stored)

    async def _match(self, req: OrderRequest) -> ExecutionReport | SimulatedFill:
        rules = self._rules.get(req.symbol)
        if rules is None:
            return ExecutionReport.rejected(Reason.EXCHANGE_REJECTED, "Invalid symbol.", -1121)
        quote = await self.quote(req.symbol)
        violation = check_order(rules, req.quantity, req.order_type, req.price, quote.for_side(req.side),
                                reduce_only=req.reduce_only, side=req.side, average_price=quote.mid)
        if violation is not None:
            return ExecutionReport.rejected(Reason.EXCHANGE_FILTER, f"Filter failure: {violation.filter}",
                                            FILTER_CODE[self._market])
        fill = simulate(req.side, req.quantity, req.order_type, req.price, quote, self._slippage, self._fee_rate,
                        rules.tick_size)
        if fill is None:
            if req.time_in_force in ("IOC", "FOK"):
                return ExecutionReport(status=Status.REJECTED, reason=Reason.ORDER_CANCELED, raw_status="EXPIRED",
                                       message=f"{req.time_in_force} LIMIT order was not marketable and expired")
            return ExecutionReport(status=Status.NEW, reason=Reason.ORDER_OPEN, raw_status="NEW",
                                   message="LIMIT order rests on the book until a quote crosses it")
        return fill

    def _fee_asset(self, req: OrderRequest) -> str:
        return self._rules[req.symbol].quote_asset


def _outcome(report: ExecutionReport | BaseException | None) -> str:
    """An answer that is an error leaves the order's fate unknown to the pipeline, as after a timeout."""
    if not isinstance(report, ExecutionReport):
        return "unknown_outcome"
    if report.exchange_code is None:
        return "ok"
    if report.exchange_code == _UNKNOWN_SYMBOL:
        return "unknown_symbol"
    return _REJECTION_OUTCOMES.get(report.reason, "rejected")  # type: ignore[arg-type]


def report_from_stored(stored: bytes | str) -> ExecutionReport:
    order = json.loads(stored)
    return ExecutionReport(
        status=Status(order["status"]),
        executed_qty=Decimal(order["executedQty"]).normalize(),
        avg_price=Decimal(order["avgPrice"]),
        quote_qty=Decimal(order["cumQuote"]),
        fee=Decimal(order["commission"]),
        fee_asset=order["commissionAsset"],
        exchange_order_id=str(order["orderId"]),
        raw_status=order["status"],
    )


def _booked_reply(reply: list[object] | BaseException, fill: SimulatedFill, req: OrderRequest,
                  fee_asset: str) -> ExecutionReport | BaseException:
    if isinstance(reply, BaseException):
        return reply
    kind = text(reply[0])
    if kind == "ERR":
        return OutcomeUnknown(f"PAPER venue failed on this order: {text(reply[1])}")
    if kind == "EXISTS":
        return report_from_stored(text(reply[1]))
    if kind == "REJECT":
        code, message = int(text(reply[1])), text(reply[2])
        reason = Reason.INSUFFICIENT_BALANCE if code in (-2010, -2018, -2019) else Reason.EXCHANGE_REJECTED
        return ExecutionReport.rejected(reason, message, code)
    return _filled(fill, fee_asset, text(reply[1]))


def _filled(fill: SimulatedFill, fee_asset: str, order_id: str) -> ExecutionReport:
    return ExecutionReport(
        status=Status.FILLED, executed_qty=fill.quantity, avg_price=fill.price, quote_qty=fill.quote_qty,
        fee=fill.fee, fee_asset=fee_asset, exchange_order_id=order_id, raw_status="FILLED",
    )
