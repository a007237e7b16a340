"""Reconciliation's comparison: where the service's books and Binance's account differ. Pure.

Binance is the source of truth. What it can hold that the books do not:
- orders the service did not place: every order of the service has a client order id starting
  ``ex-``; Binance names its own liquidation orders ``autoclose-…``, ADL ``adl_autoclose…`` and
  delivery settlement ``settlement_autoclose-…``; anything else is another client (Binance's web
  page, another program on the same key);
- positions moved by those orders (or by a liquidation or ADL with no open order left to see).
What the books can hold that Binance does not: an order open in the books but not at Binance (it
ended and the polling backstop has not booked it yet, or it is lost: polling's job, reported here).

``compare`` takes both sides as plain data (the parsing helpers below read Binance's documented
shapes) and says what differs; the runner (app/execution/reconciliation.py) decides what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

OURS_PREFIX = "ex-"
EPSILON = Decimal("1e-9")  # positions are booked with 10 decimals: below this they are equal
EXTERNAL_KINDS = (("autoclose-", "liquidation"), ("adl_autoclose", "adl"), ("settlement_autoclose", "settlement"))


def is_ours(client_order_id: str) -> bool:
    return client_order_id.startswith(OURS_PREFIX)


def external_kind(client_order_id: str) -> str:
    """Who placed an order the service did not: liquidation, adl, settlement or other."""
    for prefix, kind in EXTERNAL_KINDS:
        if client_order_id.startswith(prefix):
            return kind
    return "other"


@dataclass(frozen=True, slots=True)
class VenueOrder:
    symbol: str
    client_order_id: str
    side: str
    quantity: Decimal
    executed: Decimal


@dataclass(frozen=True, slots=True)
class VenuePosition:
    quantity: Decimal                # signed: long > 0, short < 0 (one-way mode; hedge mode's sides summed)
    price: Decimal                   # the mark price, else the entry price: what an adjustment is booked at


@dataclass(frozen=True, slots=True)
class Account:
    """Binance's side. ``positions`` None: the market has none to compare (spot)."""

    open_orders: tuple[VenueOrder, ...] = ()
    positions: Mapping[str, VenuePosition] | None = None
    balances: Mapping[str, Decimal] | None = None


@dataclass(frozen=True, slots=True)
class Books:
    """The service's side: open orders by client order id (-> symbol), signed positions per symbol,
    balances per asset (None: the service keeps none for this venue), and the symbols whose position
    may be moving right now (an order of the service open or in flight there)."""

    open_orders: Mapping[str, str] = field(default_factory=dict)
    positions: Mapping[str, Decimal] = field(default_factory=dict)
    balances: Mapping[str, Decimal] | None = None
    busy: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PositionDrift:
    symbol: str
    booked: Decimal
    venue: Decimal
    price: Decimal

    @property
    def difference(self) -> Decimal:
        """What the books must add to equal Binance (a signed fill)."""
        return self.venue - self.booked


@dataclass(frozen=True, slots=True)
class BalanceDrift:
    asset: str
    booked: Decimal
    venue: Decimal


@dataclass(frozen=True, slots=True)
class Drift:
    external_orders: tuple[VenueOrder, ...] = ()
    missing_orders: tuple[str, ...] = ()          # client order ids open in the books, not at Binance
    positions: tuple[PositionDrift, ...] = ()     # beyond the tolerance, on symbols not busy
    balances: tuple[BalanceDrift, ...] = ()
    unsettled: tuple[str, ...] = ()               # busy symbols whose position differs: left for the next round

    def counts(self) -> dict[str, int]:
        """Items per kind, for the metric execution_reconciliation_drift{kind}."""
        return {"external_order": len(self.external_orders), "missing_order": len(self.missing_orders),
                "position": len(self.positions), "balance": len(self.balances)}

    @property
    def found(self) -> bool:
        """Drift that turns the reconciliation component DEGRADED and triggers RECONCILE_ON_DRIFT.
        Missing orders do not: the polling backstop books their end, or marks them LOST."""
        return bool(self.external_orders or self.positions or self.balances)

    def summary(self) -> str:
        parts = [f"{o.client_order_id} ({external_kind(o.client_order_id)}) {o.side} {o.quantity.normalize():f} "
                 f"{o.symbol}" for o in self.external_orders]
        parts = [f"external orders: {', '.join(parts)}"] if parts else []
        if self.positions:
            parts.append("positions: " + ", ".join(f"{p.symbol} booked {p.booked.normalize():f} Binance "
                                                    f"{p.venue.normalize():f}" for p in self.positions))
        if self.balances:
            parts.append("balances: " + ", ".join(f"{b.asset} booked {b.booked.normalize():f} Binance "
                                                   f"{b.venue.normalize():f}" for b in self.balances))
        if self.missing_orders:
            parts.append("open in the books only: " + ", ".join(self.missing_orders))
        return "; ".join(parts) or "none"


def compare(books: Books, account: Account, tolerance: Decimal = Decimal(0)) -> Drift:
    """What differs between ``books`` and ``account``; quantities within ``tolerance`` (and always
    within EPSILON) are equal. A position on a busy symbol that differs is ``unsettled``, not drift:
    the service's own order there may have filled between the two reads."""
    listed = {o.client_order_id for o in account.open_orders}
    external = tuple(o for o in account.open_orders if not is_ours(o.client_order_id))
    missing = tuple(sorted(c for c in books.open_orders if c not in listed))
    limit = max(tolerance, EPSILON)
    positions, unsettled = [], []
    if account.positions is not None:
        for symbol in sorted(set(books.positions) | set(account.positions)):
            venue = account.positions.get(symbol, VenuePosition(Decimal(0), Decimal(0)))
            booked = books.positions.get(symbol, Decimal(0))
            if abs(venue.quantity - booked) <= limit:
                continue
            if symbol in books.busy:
                unsettled.append(symbol)
            else:
                positions.append(PositionDrift(symbol, booked, venue.quantity, venue.price))
    balances = []
    if books.balances is not None and account.balances is not None:
        for asset in sorted(set(books.balances) | set(account.balances)):
            booked, venue_qty = books.balances.get(asset, Decimal(0)), account.balances.get(asset, Decimal(0))
            if abs(venue_qty - booked) > limit:
                balances.append(BalanceDrift(asset, booked, venue_qty))
    return Drift(external, missing, tuple(positions), tuple(balances), tuple(unsettled))


# -- Binance's documented shapes -----------------------------------------------------------------
def dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def open_orders(docs: Iterable[Mapping[str, Any]]) -> tuple[VenueOrder, ...]:
    """GET openOrders (spot /api/v3, USD-M /fapi/v1) without a symbol: every open order."""
    return tuple(VenueOrder(str(d.get("symbol")), str(d.get("clientOrderId")), str(d.get("side")),
                            dec(d.get("origQty")), dec(d.get("executedQty"))) for d in docs)


def positions(docs: Iterable[Mapping[str, Any]]) -> dict[str, VenuePosition]:
    """USD-M GET /fapi/v3/positionRisk: one entry per symbol (and side in hedge mode) with a position
    or open orders; ``positionAmt`` signed. Flat symbols are left out."""
    amounts: dict[str, Decimal] = {}
    prices: dict[str, Decimal] = {}
    for d in docs:
        symbol = str(d.get("symbol"))
        amounts[symbol] = amounts.get(symbol, Decimal(0)) + dec(d.get("positionAmt"))
        price = dec(d.get("markPrice")) or dec(d.get("entryPrice"))
        if price:
            prices[symbol] = price
    return {s: VenuePosition(q, prices.get(s, Decimal(0))) for s, q in amounts.items() if q != 0}


def spot_balances(doc: Mapping[str, Any]) -> dict[str, Decimal]:
    """Spot GET /api/v3/account ``balances``: free + locked per asset, non-zero only."""
    out = {str(b.get("asset")): dec(b.get("free")) + dec(b.get("locked")) for b in doc.get("balances", ())}
    return {a: v for a, v in out.items() if v != 0}


def futures_balances(doc: Mapping[str, Any]) -> dict[str, Decimal]:
    """USD-M GET /fapi/v2|v3/account ``assets``: the wallet balance per margin asset, non-zero only."""
    out = {str(a.get("asset")): dec(a.get("walletBalance")) for a in doc.get("assets", ())}
    return {a: v for a, v in out.items() if v != 0}
