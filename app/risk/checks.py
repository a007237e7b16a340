"""Risk checks as pure functions: no I/O, every decision a ``Denial`` with a reason code or None.

Two groups:
- ``evaluate_intent``: checks that need only the intent and settings (symbol, leverage, age, clock
  skew, size), run in the consumer before anything is written;
- ``evaluate_book``: checks against shared state (trading state, positions, reservations, order
  rate). These must hold across replicas, so Redis enforces them atomically in
  app/state/lua/gate.lua; this function is the specification that script is tested against.

Open and in-flight orders count at their worst case: each side of a symbol has its own reservation,
never netted against the other, because either side may fill while the other is canceled. An open
SELL does not make room for a BUY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.models.result import Reason
from app.models.trading import TradingState

if TYPE_CHECKING:
    from app.config import Settings

EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Denial:
    reason: Reason
    message: str


@dataclass(frozen=True, slots=True)
class Limits:
    allowed_symbols: frozenset[str]
    max_leverage: int
    max_position_usd: float
    max_total_exposure_usd: float
    max_orders_per_minute: int
    max_intent_age_s: float
    max_order_notional_usd: float
    max_clock_skew_s: float


@dataclass(frozen=True, slots=True)
class Book:
    """What the shared state says for one symbol at admission time. ``reserved_buy`` and
    ``reserved_sell`` (>= 0) are the base quantities open or in-flight orders may still add on each side."""

    trading_state: TradingState = TradingState.ACTIVE
    position_qty: float = 0.0
    reserved_buy: float = 0.0
    reserved_sell: float = 0.0
    # other symbols: symbol -> (position, reserved BUY, reserved SELL, mark price)
    others: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    orders_this_minute: int = 0


def valuation_price(reference: float, limit: float | None) -> float:
    """The price an order is valued at for every limit: the higher of its limit price and the market's.

    A LIMIT order priced through the market fills at the market, and one priced away from it may
    fill at its limit later; exposure is an absolute value, so the larger notional is the worse one
    whichever the side (a SELL limited at 100 while BTC trades at 95,000 is worth 95,000 a coin).
    """
    return reference if limit is None or limit < reference else limit


def evaluate_intent(
    symbol: str, leverage: int, created_at: float | None, now: float, notional_usd: float, limits: Limits
) -> Denial | None:
    if symbol not in limits.allowed_symbols:
        return Denial(Reason.SYMBOL_NOT_ALLOWED, f"{symbol} is not in ALLOWED_SYMBOLS")
    if leverage > limits.max_leverage:
        return Denial(Reason.LEVERAGE_LIMIT, f"leverage {leverage}x is above the {limits.max_leverage}x limit")
    if limits.max_intent_age_s > 0 and created_at is not None:
        age = now - created_at
        if age > limits.max_intent_age_s:
            return Denial(Reason.INTENT_EXPIRED,
                          f"intent is {age:.1f}s old, older than MAX_INTENT_AGE_S={limits.max_intent_age_s:g}")
    if created_at is not None and created_at - now > limits.max_clock_skew_s:
        # dated ahead, an intent would wait out its own expiry: the year 4000 never expires
        return Denial(Reason.INTENT_FROM_FUTURE,
                      f"created_at is {created_at - now:.1f}s ahead of the service's clock, "
                      f"more than MAX_CLOCK_SKEW_S={limits.max_clock_skew_s:g}")
    if notional_usd > limits.max_order_notional_usd:
        return Denial(Reason.INVALID_INTENT,
                      f"order notional {notional_usd:.2f} USD is above the sanity bound "
                      f"{limits.max_order_notional_usd:.2f} USD")
    return None


def reduces(current: float, new: float) -> bool:
    return abs(new) < abs(current) - EPS and current * new >= 0


def worst_case(position: float, reserved_buy: float, reserved_sell: float) -> float:
    """The largest absolute position a symbol can reach if every open order of one side fills."""
    return max(abs(position + reserved_buy), abs(position - reserved_sell))


def evaluate_book(
    symbol: str, side: str, delta_qty: float, price: float, reduce_only: bool, book: Book, limits: Limits
) -> Denial | None:
    """``delta_qty`` is side-signed (a BUY adds, a SELL subtracts; an AMEND that shrinks a BUY is
    negative). Every check looks at the worst case of the order's own side: the position as if all
    open orders of that side filled."""
    if side == "BUY":
        current = book.position_qty + book.reserved_buy
    else:
        current = book.position_qty - book.reserved_sell
    new = current + delta_qty
    is_reducing = reduces(current, new)
    if book.trading_state is TradingState.HALTED:
        return Denial(Reason.TRADING_HALTED, "trading is HALTED: no orders are accepted")
    if book.trading_state is TradingState.REDUCING and not is_reducing:
        return Denial(Reason.TRADING_HALTED, "trading is REDUCING: only orders that reduce a position are accepted")
    if reduce_only and not is_reducing:
        return Denial(Reason.REDUCE_ONLY, f"reduce_only order would not reduce the {symbol} position")
    grows = abs(new) > abs(current) + EPS
    if grows and abs(new) * price > limits.max_position_usd + 1e-9:
        return Denial(Reason.POSITION_LIMIT,
                      f"{symbol} position would be {abs(new) * price:.2f} USD, "
                      f"above the {limits.max_position_usd:.2f} USD limit")
    if grows:
        total = abs(new) * price
        for other in sorted(s for s in book.others if s != symbol):  # in symbol order, as gate.lua sums
            position, buys, sells, mark = book.others[other]
            total += worst_case(position, buys, sells) * mark
        if total > limits.max_total_exposure_usd + 1e-9:
            return Denial(Reason.EXPOSURE_LIMIT,
                          f"total exposure would be {total:.2f} USD, "
                          f"above the {limits.max_total_exposure_usd:.2f} USD limit")
    if limits.max_orders_per_minute > 0 and book.orders_this_minute >= limits.max_orders_per_minute:
        return Denial(Reason.ORDER_RATE_LIMIT,
                      f"{book.orders_this_minute} orders this minute, the limit is {limits.max_orders_per_minute}")
    return None


def limits_from_settings(settings: "Settings") -> Limits:
    return Limits(
        allowed_symbols=frozenset(settings.allowed_symbols),
        max_leverage=settings.max_leverage,
        max_position_usd=settings.max_position_usd,
        max_total_exposure_usd=settings.max_total_exposure_usd,
        max_orders_per_minute=settings.max_orders_per_minute,
        max_intent_age_s=settings.max_intent_age_s,
        max_order_notional_usd=settings.max_order_notional_usd,
        max_clock_skew_s=settings.max_clock_skew_s,
    )
