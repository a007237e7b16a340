"""The polling backstop: what Binance says now of the service's open orders, in the fewest weight.

One ``GET openOrders`` per symbol with open orders (USD-M weight 1, spot 6), or one without a symbol
(USD-M 40, spot 80) when that is cheaper. An open order whose ``executedQty`` grew is a TRADE of the
growth (updates.py ``grown``: a trade id made of the Binance order id and the cumulative quantity,
the same for every replica and every poll). A local open order missing from the list has ended or
is lost: it is looked up by ``origClientOrderId`` (at most ``MAX_LOOKUPS`` a poll, so a mass cancel
at the venue does not spend the budget orders need), and its end is booked with Binance's
cumulative ``executedQty``.

Two kinds of end are left alone for now, to the writer that caused them:
- a CANCELED/EXPIRED younger than ``END_GRACE_MS`` by Binance's ``updateTime``: the service's own
  cancel (an intent, an expiry, the kill switch) books it with its reason, and a CANCEL intent
  answers CANCELED only if its own write ended the order;
- on spot, a CANCELED order whose replacement (a cancel-replace's derived client order id) exists:
  an AMEND in flight books it as AMENDED, or its redelivery does.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Mapping, Sequence

from app.config import Market
from app.exchange.base import OrderPoll
from app.exchange.binance.errors import ExchangeFailure, Kind
from app.exchange.binance.markets import Endpoint
from app.exchange.binance.transport import Transport
from app.exchange.binance.updates import cumulative, dec, ended, grown, is_open, replacement_client_order_id
from app.orders.machine import Order, VenueUpdate

log = logging.getLogger(__name__)
MAX_LOOKUPS = 10
END_GRACE_MS = 3000


class OpenOrderPoll:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def poll(self, orders: Sequence[Order], deadline: float) -> OrderPoll:
        """Binance's word on ``orders`` (read from the books before this call, so each was accepted
        before the list is asked for: one missing from it has ended)."""
        out = OrderPoll()
        listed = await self._open_orders(sorted({o.symbol for o in orders}), deadline, out)
        missing = []
        for order in orders:
            doc = listed.get((order.symbol, order.client_order_id))
            if doc is None:
                missing.append(order)
                continue
            out.known.append(order.intent_id)
            self._note(out, order, grown(order, doc, self._executed(order, doc)))
        for order in missing[:MAX_LOOKUPS]:
            try:
                doc = await self._look_up(order.symbol, order.client_order_id, deadline, out)
                update = await self._ended(order, doc, listed, deadline, out)
            except ExchangeFailure as failure:
                if failure.error.kind is not Kind.NOT_FOUND:
                    log.warning("order poll: look-up of %s failed: %s", order.client_order_id, failure.error.message)
                    break  # budget, pause or outage: the rest waits for the next poll
                out.unknown.append(order.intent_id)
                continue
            out.known.append(order.intent_id)
            self._note(out, order, update)
        return out

    async def _open_orders(self, symbols: list[str], deadline: float,
                           out: OrderPoll) -> dict[tuple[str, str], Mapping[str, Any]]:
        api = self._t.api
        if len(symbols) * api.open_orders.weight > api.open_orders_all.weight:
            docs = await self._call(api.open_orders_all, deadline, out)
        else:
            docs = [d for symbol in symbols for d in await self._call(api.open_orders, deadline, out, symbol=symbol)]
        return {(str(d.get("symbol")), str(d.get("clientOrderId"))): d for d in docs}

    async def _ended(self, order: Order, doc: Mapping[str, Any], listed: Mapping[tuple[str, str], Any],
                     deadline: float, out: OrderPoll) -> VenueUpdate | None:
        if is_open(doc):  # opened again by a modify, or listed late: its fills so far
            return grown(order, doc, self._executed(order, doc))
        update = ended(order, doc)
        if update is None or update.fill is not None:  # FILLED: nobody else's to book
            return update
        if self._t.clock.now_ms() - int(dec(doc.get("updateTime"))) < END_GRACE_MS:
            return None
        if self._t.api.market is Market.SPOT and await self._replaced(order, listed, deadline, out):
            return None
        return update

    async def _replaced(self, order: Order, listed: Mapping[tuple[str, str], Any], deadline: float,
                        out: OrderPoll) -> bool:
        replacement = replacement_client_order_id(order.client_order_id)
        if (order.symbol, replacement) in listed:
            return True
        try:
            await self._look_up(order.symbol, replacement, deadline, out)
        except ExchangeFailure as failure:
            if failure.error.kind is not Kind.NOT_FOUND:
                raise
            return False
        return True

    def _executed(self, order: Order, doc: Mapping[str, Any]) -> Decimal:
        """The order's cumulative executed quantity: USD-M modifies keep one Binance order; a spot
        order may be the last of a cancel-replace chain (updates.py ``cumulative``)."""
        if self._t.api.market is Market.USDM:
            return dec(doc.get("executedQty"))
        return cumulative(order, doc)

    @staticmethod
    def _note(out: OrderPoll, order: Order, update: VenueUpdate | None) -> None:
        if update is not None:
            out.updates[order.intent_id] = update

    async def _look_up(self, symbol: str, client_order_id: str, deadline: float, out: OrderPoll) -> Any:
        return await self._call(self._t.api.order_query, deadline, out, symbol=symbol,
                                origClientOrderId=client_order_id)

    async def _call(self, endpoint: Endpoint, deadline: float, out: OrderPoll, **params: Any) -> Any:
        out.weight += endpoint.weight
        return await self._t.call(endpoint, deadline, **params)
