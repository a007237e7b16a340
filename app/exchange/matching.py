"""How PAPER fills resting LIMIT orders from a quote: pure, tested against hand-computed numbers.

A quote crosses a BUY priced at or above its ask and a SELL at or below its bid. Crossed orders
fill at their own limit price (they made the book: maker fee), in price-time priority, up to the
quantity the quote shows on that side (all of it when the quote gives none). The trade id is the
quote's id, so every replica matching the same quote books the same fills, and a fill already
booked from this quote counts against what the quote still offers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from app.exchange.base import Quote
from app.orders.machine import Fill, Order

FEE_QUANTUM = Decimal("1e-8")


def crosses(order: Order, quote: Quote) -> bool:
    if order.order_type != "LIMIT" or order.price is None or order.status.final:
        return False
    return order.price >= quote.ask if order.side == "BUY" else order.price <= quote.bid


def _priority(order: Order) -> tuple[Decimal, int]:
    assert order.price is not None
    return (-order.price if order.side == "BUY" else order.price), order.created_ms


def allocate(orders: Iterable[Order], quote: Quote, quote_id: str, fee_rate: Decimal,
             fee_asset: str | None) -> dict[str, Fill]:
    """The fill each crossed order gets from this quote, by intent id."""
    fills: dict[str, Fill] = {}
    for side, shown in (("BUY", quote.ask_qty), ("SELL", quote.bid_qty)):
        left = shown
        crossed = sorted((o for o in orders if o.side == side and crosses(o, quote)), key=_priority)
        for order in crossed:
            if quote_id in order.trades:  # booked from this quote already (another replica, an earlier try)
                if left is not None:
                    left -= order.trades[quote_id]
                continue
            quantity = order.remaining if left is None else min(order.remaining, left)
            if quantity <= 0:
                continue
            if left is not None:
                left -= quantity
            assert order.price is not None
            fee = (order.price * quantity * fee_rate).quantize(FEE_QUANTUM)
            fills[order.intent_id] = Fill(quote_id, quantity, order.price, fee, fee_asset)
    return fills
