"""An order's commissions, read where Binance keeps them and valued in the quote asset for PnL. The I/O edge
of reports.py's pure ``commission_sums`` and ``fee_in_quote``.

USD-M order answers carry no commission and a spot look-up answer no fills; the order's trades do
(USD-M ``GET /fapi/v1/userTrades`` weight 5, spot ``GET /api/v3/myTrades`` weight 20, by orderId),
read through the transport like any call: from the shared budget, never inside a Retry-After
window. Every trade of the order is summed, not only the first. A commission in an asset that is
neither the symbol's base nor its quote (BNB) is valued at the mid of ``<asset><quote>``'s book
ticker. A commission that cannot be read or valued is logged and left out of ``fee``: the order's
outcome never waits on it.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Awaitable, Callable

from app.exchange.base import ExecutionReport
from app.exchange.binance.errors import ExchangeFailure
from app.exchange.binance.reports import commission_sums, fee_in_quote
from app.exchange.binance.transport import Transport
from app.exchange.binance.updates import dec
from app.exchange.filters import SymbolRules

log = logging.getLogger(__name__)


class Fees:
    def __init__(self, transport: Transport, rules: Callable[[str], SymbolRules | None],
                 mid: Callable[[str], Awaitable[Decimal | None]]) -> None:
        self._t = transport
        self._rules = rules
        self._mid = mid

    async def settle(self, report: ExecutionReport, symbol: str, deadline: float,
                     read_trades: bool = True) -> ExecutionReport:
        """``report`` with its commissions and their value; read from the order's trades when the
        answer had none and ``read_trades`` (a look-up: rare, after a crash)."""
        if report.executed_qty <= 0:
            return report
        if not report.commissions and read_trades and report.exchange_order_id is not None:
            report.commissions = await self._from_trades(report, symbol, deadline)
        rules = self._rules(symbol)
        if not report.commissions or rules is None:
            return report
        prices = {}
        for asset in report.commissions:
            pair = asset + rules.quote_asset
            if asset not in (rules.base_asset, rules.quote_asset) and self._rules(pair) is not None:
                price = await self._mid(pair)
                if price is not None:
                    prices[asset] = price
        report.fee, unvalued = fee_in_quote(report.commissions, rules.base_asset, rules.quote_asset,
                                            report.avg_price, prices)
        report.fee_asset = rules.quote_asset
        if unvalued:
            log.warning("order %s on %s: commission in %s has no price in %s; left out of its fee",
                        report.exchange_order_id, symbol, ", ".join(unvalued), rules.quote_asset)
        return report

    async def _from_trades(self, report: ExecutionReport, symbol: str, deadline: float) -> dict[str, Decimal]:
        try:
            trades = await self._t.call(self._t.api.user_trades, deadline, symbol=symbol,
                                        orderId=report.exchange_order_id)
        except ExchangeFailure as failure:
            log.warning("order %s on %s: commission unknown, its trades could not be read: %s",
                        report.exchange_order_id, symbol, failure.error.message)
            return {}
        traded = sum((dec(t.get("qty")) for t in trades), Decimal(0))
        if traded < report.executed_qty:
            log.warning("order %s on %s: trades list %s of the %s executed; the commission booked is theirs",
                        report.exchange_order_id, symbol, traded, report.executed_qty)
        return commission_sums(trades)

