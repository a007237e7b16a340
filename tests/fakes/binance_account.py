"""The fake Binance's account documents, derived from its orders and fills (Binance's documented shapes).

- USD-M ``GET /fapi/v3/positionRisk``: one entry per symbol with a position or open orders
  (one-way mode, ``positionSide`` BOTH), the quantity and average entry computed from the fills;
- USD-M ``GET /fapi/v2/account``: wallet balance, assets and the same positions;
- spot ``GET /api/v3/account``: balances (free, and locked for open SELL/BUY orders).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.binance_exchange import FakeExchange

SPOT, USDM = "spot", "usdm"
OPEN = ("NEW", "PARTIALLY_FILLED")


def position(exchange: "FakeExchange", symbol: str) -> tuple[Decimal, Decimal]:
    """(signed quantity, average entry price) of the USD-M position, replaying every fill in trade order."""
    fills = sorted(((t["id"], t["qty"] if o.side == "BUY" else -t["qty"], t["price"])
                    for o in exchange.orders if o.market == USDM and o.symbol == symbol for t in o.trades))
    qty, entry = Decimal(0), Decimal(0)
    for _, fill, price in fills:
        new = qty + fill
        if qty == 0 or (qty > 0) == (fill > 0):
            entry = (abs(qty) * entry + abs(fill) * price) / abs(new)
        elif new == 0:
            entry = Decimal(0)
        elif (new > 0) != (qty > 0):
            entry = price
        qty = new
    return qty, entry


def position_risk(exchange: "FakeExchange", symbol: str | None = None) -> list[dict[str, Any]]:
    symbols = [symbol] if symbol else sorted(exchange.specs)
    out = []
    for s in symbols:
        qty, entry = position(exchange, s)
        if qty == 0 and not exchange.open_orders(USDM, s):
            continue
        mark = exchange.prices[s]
        notional = qty * mark
        margin = abs(notional) / exchange.leverage.get(s, 20)
        out.append({"symbol": s, "positionSide": "BOTH", "positionAmt": _fmt(qty), "entryPrice": _fmt(entry),
                    "breakEvenPrice": _fmt(entry), "markPrice": _fmt(mark),
                    "unRealizedProfit": _fmt((mark - entry) * qty if qty else Decimal(0)),
                    "liquidationPrice": "0", "isolatedMargin": "0", "notional": _fmt(notional),
                    "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": _fmt(margin),
                    "maintMargin": _fmt(margin / 10), "positionInitialMargin": _fmt(margin),
                    "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                    "updateTime": exchange.clock()})
    return out


def futures_account(exchange: "FakeExchange") -> dict[str, Any]:
    usdt = _fmt(exchange.balances[USDM]["USDT"])
    positions = [{"symbol": p["symbol"], "positionSide": "BOTH", "positionAmt": p["positionAmt"],
                  "entryPrice": p["entryPrice"], "unrealizedProfit": p["unRealizedProfit"],
                  "initialMargin": p["initialMargin"], "maintMargin": p["maintMargin"], "isolated": False,
                  "leverage": str(exchange.leverage.get(p["symbol"], 20)), "notional": p["notional"],
                  "updateTime": p["updateTime"]} for p in position_risk(exchange)]
    return {"totalWalletBalance": usdt, "availableBalance": usdt, "canTrade": True,
            "assets": [{"asset": "USDT", "walletBalance": usdt, "availableBalance": usdt}], "positions": positions}


def spot_account(exchange: "FakeExchange") -> dict[str, Any]:
    locked: dict[str, Decimal] = {}
    for o in exchange.open_orders(SPOT):
        left = o.orig_qty - o.executed
        asset, amount = ("USDT", left * o.price) if o.side == "BUY" else (exchange.specs[o.symbol].base, left)
        locked[asset] = locked.get(asset, Decimal(0)) + amount
    balances = [{"asset": a, "free": _fmt(v - locked.get(a, Decimal(0))), "locked": _fmt(locked.get(a, Decimal(0)))}
                for a, v in exchange.balances[SPOT].items()]
    return {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True,
            "canDeposit": True, "accountType": "SPOT", "permissions": ["SPOT"], "balances": balances}


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"
