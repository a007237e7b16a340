"""The interface every venue adapter implements (PAPER, Binance TESTNET/LIVE), and its data types.

An exchange rejection is data: an ``ExecutionReport`` with a reason. Exceptions leave an adapter
only for the one case the caller must treat differently: ``OutcomeUnknown``, when an order may or
may not exist and nothing may be published until it is found.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from app.exchange.binance.drift import Account
from app.exchange.filters import SymbolRules
from app.models.result import Reason, Status
from app.orders.machine import ExecutionType, Order, OrderStatus, VenueUpdate


class Health(StrEnum):
    UP = "UP"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of the book; the sizes at the touch when the price source knows them (a quote stream may say)."""

    bid: Decimal
    ask: Decimal
    bid_qty: Decimal | None = None
    ask_qty: Decimal | None = None

    def for_side(self, side: str) -> Decimal:
        return self.ask if side == "BUY" else self.bid

    @property
    def mid(self) -> Decimal:
        """The book's mid: what the price bands take for the exchange's mark (USD-M) or average (spot) price."""
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str
    quantity: Decimal
    order_type: str
    client_order_id: str
    leverage: int = 1
    price: Decimal | None = None
    time_in_force: str = "GTC"
    reduce_only: bool = False


@dataclass(slots=True)
class ExecutionReport:
    status: Status
    executed_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    quote_qty: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    exchange_order_id: str | None = None
    reason: Reason | None = None
    message: str = ""
    exchange_code: int | None = None
    raw_status: str | None = None
    commissions: dict[str, Decimal] = field(default_factory=dict)  # as charged, per asset; ``fee`` is their value

    @classmethod
    def rejected(cls, reason: Reason, message: str, code: int | None = None,
                 status: Status = Status.REJECTED) -> "ExecutionReport":
        return cls(status=status, reason=reason, message=message, exchange_code=code)


@dataclass(slots=True)
class ComponentStatus:
    status: Health
    message: str = ""
    details: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class OrderPoll:
    """What one look at the venue's open orders learnt about the orders it was asked about (by intent id).

    ``updates`` are changes to book; ``known`` the orders the venue still knows (open, or ended and
    found); ``unknown`` those it answered it does not know at all. ``weight`` is what the look cost.
    """

    updates: dict[str, VenueUpdate] = field(default_factory=dict)
    known: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    weight: int = 0
    weight_limit_1m: int | None = None


class OutcomeUnknown(Exception):
    """The order may exist at the exchange; resolve it by client order id before publishing."""


@dataclass(frozen=True, slots=True)
class PushedChange:
    """One order change a venue pushed: the order's client order id, and the update it makes to that
    order as the books hold it (None: nothing to book)."""

    client_order_id: str
    update_for: Callable[[Order], VenueUpdate | None]
    ends_order: bool = False  # a cancel or an expiry: perhaps the service's own, which books it with its reason


@dataclass(frozen=True, slots=True)
class AccountChange:
    """A change to the account's balances a venue pushed (Binance's ACCOUNT_UPDATE). A funding fee is
    ``funding``: (asset, amount), positive when received and negative when paid, with the symbol it
    was paid on when the venue names it."""

    event_ms: int
    reason: str
    balances: tuple[tuple[str, Decimal], ...]  # (asset, wallet balance)
    funding: tuple[tuple[str, Decimal], ...] = ()
    funding_symbol: str | None = None


class StreamClosed(Exception):
    """The push channel ended (dropped, its key expired, a keep-alive refused): connect again."""


class UserStream(ABC):
    """A venue's stream of changes to the account's orders, one connection at a time."""

    @abstractmethod
    async def connect(self) -> None:
        """Open the stream (a new one after ``close``)."""

    @abstractmethod
    async def keep_alive(self) -> None:
        """Tell the venue the stream is still wanted; a refusal raises ``StreamClosed``."""

    @abstractmethod
    async def receive(self, timeout_s: float) -> list[PushedChange | AccountChange]:
        """The changes in the next message (order changes, or an account change), [] when nothing came
        within ``timeout_s`` (or the message was of another kind); ``StreamClosed`` when the stream ended."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection and give the venue's key back; never raises."""


class ExchangeAdapter(ABC):
    """One venue. Implementations must never send an order twice for one client order id."""

    name: str = "exchange"

    async def start(self) -> None:
        """Load what the adapter needs (filters, credentials check) before the service is ready."""

    async def close(self) -> None:
        """Release connections."""

    @abstractmethod
    async def rules(self, symbol: str) -> SymbolRules | None:
        """The symbol's filters, or None when the venue does not list it."""

    @abstractmethod
    async def quote(self, symbol: str) -> Quote:
        """Best bid and ask, used to size notional intents and value exposure."""

    @abstractmethod
    async def place_order(self, request: OrderRequest) -> ExecutionReport:
        """Send one order; rejections come back as reports, unknown outcomes raise OutcomeUnknown."""

    @abstractmethod
    async def query_order(self, symbol: str, client_order_id: str) -> ExecutionReport | None:
        """The order with this client order id, or None when the venue has no such order."""

    async def cancel_order(self, order: Order) -> VenueUpdate:
        """Withdraw an open order; the update says what the venue did (CANCELED, or FILLED when the
        fill won the race). Transport failures raise; the caller retries later."""
        raise NotImplementedError(f"{self.name} cannot cancel orders")

    async def amend_order(self, order: Order, price: Decimal | None, quantity: Decimal | None) -> VenueUpdate:
        """Change an open LIMIT order's price and/or quantity, keeping its place in the service's books;
        a refusal raises ``AmendRejected``."""
        raise NotImplementedError(f"{self.name} cannot amend orders")

    async def poll_orders(self, orders: Sequence[Order]) -> OrderPoll | None:
        """What the venue says now of these open orders; None for a venue whose changes the service
        makes itself (PAPER). Failures raise; the caller polls again later."""
        return None

    async def account(self) -> Account | None:
        """The venue's account for reconciliation (open orders of every symbol; positions where the
        venue has them); None for a venue whose books are the service's own (PAPER). Failures raise
        ``ExchangeUnavailable``-like errors; the caller tries again next round."""

    def user_stream(self) -> UserStream | None:
        """The venue's push channel of order changes; None where there is none (PAPER, Binance spot for now)."""
        return None

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[ExecutionReport | BaseException]:
        """Send several orders; an adapter may batch. Exceptions are returned in place."""
        return list(await asyncio.gather(*(self.place_order(r) for r in requests), return_exceptions=True))

    def health(self) -> ComponentStatus:
        return ComponentStatus(Health.UP)

    def ready(self) -> bool:
        return self.health().status is not Health.DOWN


@dataclass(frozen=True, slots=True)
class StagedOrder:
    """An order a Redis-scripted venue has priced and encoded for its Lua booking function."""

    request: OrderRequest
    payload: bytes
    priced: Any  # the venue's own pricing, for the report once booked


@runtime_checkable
class GateBookedVenue(Protocol):
    """A venue whose book lives in Redis (PAPER): its orders are booked by a Lua function that the
    admission gate's script runs for each intent it admits, so admission and booking are one atomic
    step and one round trip (app/state/lua/main_gate_paper.lua)."""

    async def stage(self, request: OrderRequest) -> ExecutionReport | StagedOrder:
        """The order priced and encoded for booking, or the venue's answer when none is needed
        (a filter rejection, a LIMIT order that would rest)."""

    async def number(self, resting: Sequence[ExecutionReport]) -> None:
        """Give the orders ``stage`` answered NEW (they rest) their venue order ids."""

    def script_keys(self) -> list[str]:
        """KEYS of the booking function (make_paper's K)."""

    def script_args(self) -> list[Any]:
        """ARGV of the booking function (make_paper's A), as of now."""

    def booked(self, staged: StagedOrder, reply: Any, elapsed_s: float) -> ExecutionReport | BaseException:
        """The report for the script's reply to one staged order."""

    def expected(self, staged: StagedOrder, order_id: str) -> ExecutionReport:
        """The report if the booking fills as priced, under ``order_id`` (the script's is not known yet)."""
