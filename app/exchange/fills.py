"""How the PAPER venue prices an order: pure functions, tested against hand-computed numbers.

A MARKET BUY fills at the ask and a SELL at the bid, each moved by the configured slippage and
rounded to the tick; a LIMIT order fills only when marketable, at the better of its limit and the
touch; the taker fee is charged on the quote notional.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from app.exchange.base import Quote

BPS = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class SimulatedFill:
    price: Decimal
    quantity: Decimal
    fee: Decimal

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.quantity


def quote_from_mid(mid: Decimal, spread_bps: Decimal) -> Quote:
    half = mid * spread_bps * BPS / 2
    return Quote(bid=mid - half, ask=mid + half)


def to_tick(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return ((price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick).normalize()


def simulate(
    side: str,
    quantity: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    quote: Quote,
    slippage_bps: Decimal,
    fee_rate: Decimal,
    tick: Decimal,
) -> SimulatedFill | None:
    """The fill of a marketable order, or None when a LIMIT order would rest on the book."""
    touch = quote.for_side(side)
    if order_type == "LIMIT":
        assert limit_price is not None
        marketable = limit_price >= touch if side == "BUY" else limit_price <= touch
        if not marketable:
            return None
        price = touch
    else:
        moved = touch * slippage_bps * BPS
        price = touch + moved if side == "BUY" else touch - moved
    price = to_tick(price, tick)
    return SimulatedFill(price=price, quantity=quantity, fee=(price * quantity * fee_rate).quantize(Decimal("1e-8")))
