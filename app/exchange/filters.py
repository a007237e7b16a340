"""Binance symbol filters (exchangeInfo): parsing, quantity rounding and local checks.

Pure functions over ``Decimal``. PAPER and the Binance adapters share this module, so a paper
order the real exchange would refuse with -1013 / -4164 is refused here first, before any request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Iterable

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FilterViolation:
    """Why an order would fail the exchange's filters; mirrors Binance's -1013 message."""

    filter: str
    message: str


@dataclass(frozen=True, slots=True)
class PriceBand:
    """PERCENT_PRICE or PERCENT_PRICE_BY_SIDE: how far a LIMIT price may lie from the reference price
    (spot: the weighted average price; USD-M futures: the mark price), as multipliers per side.

    Spot's PERCENT_PRICE bounds both sides alike; USD-M's bounds a BUY from above and a SELL from
    below only. A zero multiplier is no bound.
    """

    filter: str
    bid_up: Decimal = ZERO
    bid_down: Decimal = ZERO
    ask_up: Decimal = ZERO
    ask_down: Decimal = ZERO

    def violation(self, side: str, price: Decimal, reference: Decimal) -> FilterViolation | None:
        up, down = (self.bid_up, self.bid_down) if side == "BUY" else (self.ask_up, self.ask_down)
        if up > 0 and price > reference * up:
            return FilterViolation(self.filter, _off_band(price, "above", up, reference))
        if down > 0 and price < reference * down:
            return FilterViolation(self.filter, _off_band(price, "below", down, reference))
        return None


def _off_band(price: Decimal, where: str, multiplier: Decimal, reference: Decimal) -> str:
    return (f"price {price.normalize():f} is {where} {(reference * multiplier).normalize():f}, "
            f"{multiplier.normalize():f} x the reference price {reference.normalize():f}")


@dataclass(frozen=True, slots=True)
class SymbolRules:
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    step_size: Decimal = ZERO
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    market_step_size: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    max_notional: Decimal = ZERO
    apply_min_to_market: bool = True
    # USD-M futures: "Order's notional must be no smaller than 5.0 (unless you choose reduce only)" (-4164)
    reduce_only_skips_min_notional: bool = False
    price_bands: tuple[PriceBand, ...] = ()
    trading: bool = True


def round_down(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantity_for(rules: SymbolRules, quantity: Decimal, order_type: str) -> Decimal:
    """Round a quantity down to the step the exchange applies to this order type."""
    if quantity <= 0:
        return ZERO
    rounded = round_down(quantity, rules.step_size)
    if order_type == "MARKET":
        rounded = round_down(rounded, rules.market_step_size)
    return rounded.normalize()


def price_for(rules: SymbolRules, price: Decimal) -> Decimal:
    return round_down(price, rules.tick_size).normalize()


def check_order(
    rules: SymbolRules, quantity: Decimal, order_type: str, price: Decimal | None, reference_price: Decimal,
    reduce_only: bool = False, side: str | None = None, average_price: Decimal | None = None,
) -> FilterViolation | None:
    """The first filter this order fails, or None. ``reference_price`` values MARKET orders.

    A reduce-only futures order is exempt from the minimum notional, so a small remainder can be closed.
    The price bands (PERCENT_PRICE, PERCENT_PRICE_BY_SIDE) bind a LIMIT price to ``average_price``,
    the exchange's weighted average or mark price; they are checked when it and ``side`` are given.
    """
    if not rules.trading:
        return FilterViolation("STATUS", f"{rules.symbol} is not trading")
    if order_type == "LIMIT":
        if price is None or price <= 0:
            return FilterViolation("PRICE_FILTER", "price must be positive")
        if rules.tick_size > 0 and price % rules.tick_size != 0:
            return FilterViolation("PRICE_FILTER", f"price {price} is not a multiple of tickSize {rules.tick_size}")
        if rules.min_price > 0 and price < rules.min_price:
            return FilterViolation("PRICE_FILTER", f"price {price} is below minPrice {rules.min_price}")
        if rules.max_price > 0 and price > rules.max_price:
            return FilterViolation("PRICE_FILTER", f"price {price} is above maxPrice {rules.max_price}")
        if side is not None and average_price is not None:
            for band in rules.price_bands:
                if violation := band.violation(side, price, average_price):
                    return violation
    if violation := _check_lot(quantity, "LOT_SIZE", rules.step_size, rules.min_qty, rules.max_qty):
        return violation
    if order_type == "MARKET" and (violation := _check_lot(
            quantity, "MARKET_LOT_SIZE", rules.market_step_size, rules.market_min_qty, rules.market_max_qty)):
        return violation
    notional = quantity * (price if order_type == "LIMIT" and price else reference_price)
    applies = (order_type == "LIMIT" or rules.apply_min_to_market) and not (
        reduce_only and rules.reduce_only_skips_min_notional)
    if applies and rules.min_notional > 0 and notional < rules.min_notional:
        return FilterViolation(
            "MIN_NOTIONAL", f"notional {notional.normalize():f} is below the minimum {rules.min_notional.normalize():f}"
        )
    if rules.max_notional > 0 and notional > rules.max_notional:
        return FilterViolation("NOTIONAL", f"notional {notional:f} is above the maximum {rules.max_notional:f}")
    return None


def _check_lot(quantity: Decimal, name: str, step: Decimal, min_qty: Decimal, max_qty: Decimal) -> FilterViolation | None:
    if quantity <= 0:
        return FilterViolation(name, "quantity rounds to zero at this step size")
    if min_qty > 0 and quantity < min_qty:
        return FilterViolation(name, f"quantity {quantity:f} is below minQty {min_qty.normalize():f}")
    if max_qty > 0 and quantity > max_qty:
        return FilterViolation(name, f"quantity {quantity:f} is above maxQty {max_qty.normalize():f}")
    if step > 0 and (quantity - min_qty) % step != 0:
        return FilterViolation(name, f"quantity {quantity:f} is not a multiple of stepSize {step.normalize():f}")
    return None


def rules_from_symbol_info(info: dict[str, Any]) -> SymbolRules:
    """Parse one ``symbols[]`` entry of spot or USD-M futures exchangeInfo."""
    fields: dict[str, Any] = {}
    bands: list[PriceBand] = []
    for flt in info.get("filters", ()):
        kind = flt.get("filterType")
        if kind == "PRICE_FILTER":
            fields.update(tick_size=_d(flt, "tickSize"), min_price=_d(flt, "minPrice"), max_price=_d(flt, "maxPrice"))
        elif kind == "LOT_SIZE":
            fields.update(step_size=_d(flt, "stepSize"), min_qty=_d(flt, "minQty"), max_qty=_d(flt, "maxQty"))
        elif kind == "MARKET_LOT_SIZE":
            fields.update(market_step_size=_d(flt, "stepSize"), market_min_qty=_d(flt, "minQty"),
                          market_max_qty=_d(flt, "maxQty"))
        elif kind == "MIN_NOTIONAL":
            # spot's legacy filter has minNotional/applyToMarket; futures' has notional
            fields["min_notional"] = _d(flt, "minNotional") or _d(flt, "notional")
            fields["apply_min_to_market"] = bool(flt.get("applyToMarket", True))
            fields["reduce_only_skips_min_notional"] = "notional" in flt
        elif kind == "NOTIONAL":
            fields.update(min_notional=_d(flt, "minNotional"), max_notional=_d(flt, "maxNotional"),
                          apply_min_to_market=bool(flt.get("applyMinToMarket", True)))
        elif kind == "PERCENT_PRICE":
            up, down = _d(flt, "multiplierUp"), _d(flt, "multiplierDown")
            # USD-M's (it has multiplierDecimal): BUY price <= mark x up, SELL price >= mark x down
            bands.append(PriceBand(kind, bid_up=up, ask_down=down) if "multiplierDecimal" in flt else
                         PriceBand(kind, up, down, up, down))
        elif kind == "PERCENT_PRICE_BY_SIDE":
            bands.append(PriceBand(kind, _d(flt, "bidMultiplierUp"), _d(flt, "bidMultiplierDown"),
                                   _d(flt, "askMultiplierUp"), _d(flt, "askMultiplierDown")))
    status = info.get("status", "TRADING")
    return SymbolRules(
        symbol=info["symbol"],
        base_asset=info.get("baseAsset", ""),
        quote_asset=info.get("quoteAsset", "USDT"),
        trading=status == "TRADING",
        price_bands=tuple(bands),
        **fields,
    )


def rules_from_exchange_info(exchange_info: dict[str, Any], symbols: Iterable[str] | None = None) -> dict[str, SymbolRules]:
    wanted = set(symbols) if symbols is not None else None
    return {
        s["symbol"]: rules_from_symbol_info(s)
        for s in exchange_info.get("symbols", ())
        if wanted is None or s.get("symbol") in wanted
    }


def _d(flt: dict[str, Any], key: str) -> Decimal:
    value = flt.get(key)
    return Decimal(str(value)) if value not in (None, "") else ZERO
