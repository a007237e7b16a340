"""Binance USD-M's ``ACCOUNT_UPDATE`` event, typed. Pure.

Binance's docs ("Event: Balance and Position Update"): ``E`` event time, ``a.m`` the reason (ORDER,
FUNDING_FEE, DEPOSIT, WITHDRAW, ...), ``a.B`` the balances that changed (``a`` asset, ``wb`` wallet
balance, ``cw`` cross wallet balance, ``bc`` balance change except PnL and commission), ``a.P`` the
positions that changed (``s`` symbol, ``pa`` amount, ``ep`` entry price, ``up`` unrealized PnL, ``mt``
margin type). A funding fee on a crossed position comes with the balance only (no ``P``); on an
isolated one with that one position: only then is the symbol it was paid on known.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from app.exchange.binance.stream_events import unwrap
from app.exchange.binance.updates import dec

ACCOUNT_EVENT, FUNDING_FEE = "ACCOUNT_UPDATE", "FUNDING_FEE"


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    wallet: Decimal
    cross_wallet: Decimal
    change: Decimal  # except PnL and commission: for a funding fee, the fee (negative when paid)


@dataclass(frozen=True, slots=True)
class PositionState:
    symbol: str
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    margin_type: str


@dataclass(frozen=True, slots=True)
class AccountEvent:
    reason: str
    event_ms: int
    balances: tuple[Balance, ...]
    positions: tuple[PositionState, ...]

    @property
    def funding_symbol(self) -> str | None:
        """The symbol a FUNDING_FEE was paid on, when Binance names it (one isolated position)."""
        if self.reason != FUNDING_FEE or len(self.positions) != 1:
            return None
        return self.positions[0].symbol


def parse_account(message: Mapping[str, Any]) -> AccountEvent | None:
    """The ``ACCOUNT_UPDATE`` in ``message``; None for any other event or a malformed one."""
    doc = unwrap(message)
    body = doc.get("a")
    if doc.get("e") != ACCOUNT_EVENT or not isinstance(body, Mapping):
        return None
    balances = tuple(Balance(str(b["a"]), dec(b.get("wb")), dec(b.get("cw")), dec(b.get("bc")))
                     for b in _rows(body.get("B")) if b.get("a"))
    positions = tuple(PositionState(str(p["s"]), dec(p.get("pa")), dec(p.get("ep")), dec(p.get("up")),
                                    str(p.get("mt", ""))) for p in _rows(body.get("P")) if p.get("s"))
    return AccountEvent(str(body.get("m", "")), int(dec(doc.get("E") or doc.get("T"))), balances, positions)


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []
