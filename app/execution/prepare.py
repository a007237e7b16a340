"""Stateless preparation of one intent: price it, size it, round it, and run the checks that need
no shared state. Returns the order to send (if any) and the first denial found.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.config import Market
from app.exchange.base import ExchangeAdapter, OrderRequest, Quote
from app.exchange.filters import check_order, quantity_for
from app.models.intent import Intent
from app.models.result import Reason
from app.risk.checks import Denial, Limits, evaluate_intent, valuation_price


@dataclass(slots=True)
class Prepared:
    request: OrderRequest | None
    price: float  # what the order is valued at for the limits (app/risk/checks.py valuation_price)
    quantity: float | None
    denial: Denial | None
    mark: float = 0.0  # the market price it was valued against: the touch on its side


async def prepare(intent: Intent, exchange: ExchangeAdapter, limits: Limits, market: Market,
                  quotes: dict[str, Quote], now: float) -> Prepared:
    if intent.symbol not in limits.allowed_symbols:
        return Prepared(None, 0.0, intent.quantity,
                        Denial(Reason.SYMBOL_NOT_ALLOWED, f"{intent.symbol} is not in ALLOWED_SYMBOLS"))
    if market is Market.SPOT and intent.leverage != 1:
        return Prepared(None, 0.0, intent.quantity,
                        Denial(Reason.LEVERAGE_LIMIT, "spot orders cannot use leverage: send leverage 1"))
    rules = await exchange.rules(intent.symbol)
    if rules is None:
        return Prepared(None, 0.0, intent.quantity,
                        Denial(Reason.INVALID_INTENT, f"unknown symbol {intent.symbol}: the exchange does not list it"))
    quote = quotes.get(intent.symbol)
    if quote is None:
        try:
            quote = quotes[intent.symbol] = await exchange.quote(intent.symbol)
        except Exception as exc:  # any failure to price is the venue being unavailable for this intent
            return Prepared(None, 0.0, intent.quantity,
                            Denial(getattr(exc, "reason", Reason.EXCHANGE_UNAVAILABLE),
                                   f"no price for {intent.symbol}: {exc}"))
    touch = quote.for_side(intent.side)
    limit_price = Decimal(repr(intent.price)) if intent.price is not None else None
    sizing = limit_price if limit_price is not None else touch
    try:
        wanted = Decimal(repr(intent.quantity)) if intent.quantity is not None else \
            Decimal(repr(intent.notional_usd)) / sizing
    except (InvalidOperation, ZeroDivisionError):
        return Prepared(None, 0.0, None, Denial(Reason.INVALID_INTENT, "size cannot be converted to a quantity"))
    quantity = quantity_for(rules, wanted, intent.order_type)
    mark = float(touch)
    price = valuation_price(mark, intent.price)
    denial = evaluate_intent(intent.symbol, intent.leverage, intent.created_at, now, float(wanted) * price, limits)
    if denial is not None:
        return Prepared(None, price, float(wanted), denial, mark)
    violation = check_order(rules, quantity, intent.order_type, limit_price, touch, intent.reduce_only,
                            intent.side, quote.mid)
    if violation is not None:
        return Prepared(None, price, float(wanted),
                        Denial(Reason.EXCHANGE_FILTER, f"Filter failure: {violation.filter}: {violation.message}"),
                        mark)
    request = OrderRequest(
        symbol=intent.symbol, side=intent.side, quantity=quantity, order_type=intent.order_type,
        client_order_id=intent.client_order_id, leverage=intent.leverage, price=limit_price,
        time_in_force=intent.time_in_force, reduce_only=intent.reduce_only,
    )
    return Prepared(request, price, float(quantity), None, mark)
