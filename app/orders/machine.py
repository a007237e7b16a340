"""The order state machine: what one venue update does to one order. Pure, no I/O.

Every source of "the venue says this order changed" (PAPER's matching of resting orders against
quotes, a cancel, an expiry, the kill switch, and Binance's own reports) builds a ``VenueUpdate``
and passes it through ``apply``; ``app/state/orders.py`` writes the resulting ``Change`` to Redis
atomically, only if the order is still as it was read (its ``seq``), so replicas racing on one
order produce one change. A fill is booked once per trade id; cumulative quantities never go down;
a final order takes no further change.

A venue that reports one order's fills through more than one channel (Binance: the polling
backstop, a cancel's answer, later the user-data stream) names the same fill differently in each, so
the trade id alone cannot keep it from being booked twice. Its TRADE updates carry the venue's
cumulative executed quantity after the fill (``executed_qty``): such a fill is booked only up to
that quantity, so a report of fills already booked through another channel books nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from app.models.result import Reason

ZERO = Decimal(0)


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def final(self) -> bool:
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecutionType(StrEnum):
    """What an event is (Binance's executionReport ``x``, with AMENDED for a changed price or quantity)."""

    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    AMENDED = "AMENDED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    fee_asset: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order the service follows, as stored in its live record (``Keys.live``)."""

    intent_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None = None
    exchange_order_id: str | None = None
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    fee: Decimal = ZERO
    fee_asset: str | None = None
    seq: int = 1
    leverage: int = 1
    reduce_only: bool = False
    mode: str = "PAPER"
    traceparent: str | None = None
    created_ms: int = 0
    expire_at_ms: int = 0
    cause_intent_id: str | None = None  # the CANCEL/AMEND intent behind the last change, if any
    trades: dict[str, Decimal] = field(default_factory=dict)  # trade id -> quantity booked
    causes: frozenset[str] = frozenset()  # every intent that changed it (a redelivered action finds its own)

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed_qty

    @property
    def avg_price(self) -> Decimal | None:
        return self.cum_quote / self.executed_qty if self.executed_qty > 0 else None


@dataclass(frozen=True, slots=True)
class VenueUpdate:
    """One change the venue reports (or, for PAPER, makes) to one order.

    ``status`` is the venue's status after the change. A TRADE carries its ``fill``, and when the venue
    says it, its cumulative ``executed_qty`` after the fill (booked only up to that); an update that
    ends the order may carry the venue's cumulative ``executed_qty`` when it knows more than was
    booked (a fill that raced the cancel: the venue's word wins, the difference is booked as a
    fill of its own). AMENDED carries the new ``price`` and/or ``quantity``, and ``client_order_id``
    when the venue replaced the order by a new one that the service follows from then on (Binance
    spot's cancel-replace).
    """

    execution_type: ExecutionType
    status: OrderStatus
    fill: Fill | None = None
    executed_qty: Decimal | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    reason: str | None = None
    cause_intent_id: str | None = None
    exchange_order_id: str | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What one update does: the order after it and what moves in the books.

    ``filled`` (base quantity, unsigned) moves from the order's reservation to the position at
    ``fill.price``; ``released`` (unsigned) is the rest of the reservation given back by a final
    order or a smaller amend; ``reserved`` (unsigned) is added by a larger amend.
    """

    before: Order
    after: Order
    update: VenueUpdate
    fill: Fill | None = None
    released: Decimal = ZERO
    reserved: Decimal = ZERO

    @property
    def final(self) -> bool:
        return self.after.status.final


class AmendRejected(Exception):
    """The venue refused an amend and the order stays as it was: a REJECTED result with ``reason``.

    Raised by ``amend_order`` only (its answer is otherwise a ``VenueUpdate``); an amend that finds
    the order already final returns that final update instead, for the caller to book.
    """

    def __init__(self, reason: Reason, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code


class UpdateRefused(ValueError):
    """An update that cannot be true of this order (a venue bug or a mixed-up id): never booked."""


def apply(order: Order, update: VenueUpdate) -> Change | None:
    """The change ``update`` makes to ``order``, or None when it changes nothing (seen before, or
    the order is already final)."""
    if order.status.final:
        return None
    if update.execution_type is ExecutionType.TRADE:
        return _trade(order, update)
    if update.execution_type is ExecutionType.AMENDED:
        return _amend(order, update)
    if update.execution_type is ExecutionType.NEW:
        return _acknowledged(order, update)
    return _end(order, update)


def _trade(order: Order, update: VenueUpdate) -> Change | None:
    fill = update.fill
    if fill is None:
        raise UpdateRefused("a TRADE update needs its fill")
    if fill.trade_id in order.trades:
        return None
    if fill.quantity <= 0 or fill.price <= 0:
        raise UpdateRefused(f"fill {fill.trade_id} has quantity {fill.quantity} at {fill.price}")
    if update.executed_qty is not None:
        if update.executed_qty > order.quantity:
            raise UpdateRefused(f"executed {update.executed_qty} is more than the order's {order.quantity}")
        grown = update.executed_qty - order.executed_qty
        if grown <= 0:  # booked already, through another report of the same fills
            return None
        if grown < fill.quantity:
            fill = replace(fill, quantity=grown, fee=fill.fee * grown / fill.quantity)
    if fill.quantity > order.remaining:
        raise UpdateRefused(f"fill {fill.trade_id} of {fill.quantity} is more than the {order.remaining} left")
    after = _filled(order, fill)
    status = OrderStatus.FILLED if after.remaining == 0 else OrderStatus.PARTIALLY_FILLED
    return Change(order, _next(after, update, status=status), update, fill=fill)


def _end(order: Order, update: VenueUpdate) -> Change:
    if not update.status.final:
        raise UpdateRefused(f"{update.execution_type} with status {update.status} does not end the order")
    after, fill = order, None
    executed = update.executed_qty
    if executed is not None and executed > order.executed_qty:
        if executed > order.quantity:
            raise UpdateRefused(f"executed {executed} is more than the order's {order.quantity}")
        price = order.price if order.price is not None else (order.avg_price or ZERO)
        fill = Fill(f"{update.execution_type.lower()}-{order.seq + 1}", executed - order.executed_qty, price)
        after = _filled(order, fill)
    status = OrderStatus.FILLED if after.remaining == 0 else update.status
    return Change(order, _next(after, update, status=status), update, fill=fill, released=after.remaining)


def _amend(order: Order, update: VenueUpdate) -> Change:
    quantity = update.quantity if update.quantity is not None else order.quantity
    price = update.price if update.price is not None else order.price
    if quantity <= order.executed_qty:
        raise UpdateRefused(f"quantity {quantity} is not above the {order.executed_qty} already filled")
    if price is not None and price <= 0:
        raise UpdateRefused(f"price {price} cannot be an order's limit")
    after = _next(replace(order, quantity=quantity, price=price), update, status=order.status)
    grown = quantity - order.quantity
    return Change(order, after, update, released=max(-grown, ZERO), reserved=max(grown, ZERO))


def _acknowledged(order: Order, update: VenueUpdate) -> Change | None:
    """The venue's acknowledgement of an order already recorded: only news if it brings its id."""
    if update.exchange_order_id is None or update.exchange_order_id == order.exchange_order_id:
        return None
    return Change(order, _next(order, update, status=order.status), update)


def _filled(order: Order, fill: Fill) -> Order:
    return replace(order, executed_qty=order.executed_qty + fill.quantity,
                   cum_quote=order.cum_quote + fill.quantity * fill.price, fee=order.fee + fill.fee,
                   fee_asset=fill.fee_asset or order.fee_asset, trades={**order.trades, fill.trade_id: fill.quantity})


def _next(order: Order, update: VenueUpdate, status: OrderStatus) -> Order:
    return replace(order, status=status, seq=order.seq + 1,
                   exchange_order_id=update.exchange_order_id or order.exchange_order_id,
                   client_order_id=update.client_order_id or order.client_order_id,
                   cause_intent_id=update.cause_intent_id or order.cause_intent_id,
                   causes=order.causes | {update.cause_intent_id} if update.cause_intent_id else order.causes)
