"""Cancelling and amending open orders on Binance, and finding out what the venue did.

Both go through the same ``Transport`` (shared budget, 429/418 pauses) as new orders. A cancel
answered ``-2011`` (no open order by that id) is not an error: the order ended meanwhile, so it is
looked up and its final state booked (FILLED when the fill won the race). An amend is USD-M's
modify (the same order) or spot's cancel-replace (a new order under a client order id derived from
the old one, which the update hands on). A cancel-replace whose outcome was unknown is safe to
send again: its cancel half then fails, and a look-up of the derived id finds the replacement.
An amend refused with the order unchanged (filters, a rate-limit denial: nothing was sent) raises
``AmendRejected``. Failures that leave the outcome open raise ``ExchangeFailure``; the adapter
turns them into the interface's errors and the caller tries again later.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Mapping

from app.exchange.binance.errors import ExchangeError, ExchangeFailure, Kind
from app.exchange.binance.transport import Transport
from app.exchange.binance.updates import amended, carried, cumulative, ended, is_open, replacement_client_order_id
from app.models.result import Reason
from app.orders.machine import AmendRejected, Order, VenueUpdate

log = logging.getLogger(__name__)
NO_NEED_TO_MODIFY = -5027           # USD-M: the order already has this price and quantity
REPLACE_FAILED = -2022              # spot: the cancel half failed, no new order was attempted
REPLACE_PARTIALLY_FAILED = -2021    # spot: the old order was canceled, the new one refused


class OrderChanges:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def cancel(self, order: Order, deadline: float) -> VenueUpdate:
        try:
            doc = await self._t.call(self._t.api.order_cancel, deadline, symbol=order.symbol,
                                     origClientOrderId=order.client_order_id)
        except ExchangeFailure as failure:
            if failure.error.kind is not Kind.NOT_FOUND:
                raise
            log.info("cancel of %s: %s; looking it up", order.client_order_id, failure.error.message)
            doc = await self._look_up(order.symbol, order.client_order_id, deadline)
        return _final(order, doc)

    async def amend(self, order: Order, price: Decimal | None, quantity: Decimal | None,
                    deadline: float) -> VenueUpdate:
        price = price if price is not None else order.price
        quantity = quantity if quantity is not None else order.quantity
        if price is None:
            raise AmendRejected(Reason.EXCHANGE_REJECTED, f"{order.client_order_id} has no price: only LIMIT "
                                                          f"orders can be amended")
        replacement = replacement_client_order_id(order.client_order_id)
        params = self._t.api.amend_params(order, price, quantity, replacement)
        try:
            doc = await self._t.call(self._t.api.order_amend, deadline, **params)
        except ExchangeFailure as failure:
            return await self._amend_refused(order, failure.error, price, quantity, replacement, deadline)
        if "newOrderResponse" in doc:  # spot: the old order is canceled, the new one follows it
            return amended(order, doc["newOrderResponse"], cumulative(order, doc["cancelResponse"]), replacement)
        return _final(order, doc) if not is_open(doc) else amended(order, doc, carried(order, doc))

    async def _amend_refused(self, order: Order, error: ExchangeError, price: Decimal, quantity: Decimal,
                             replacement: str, deadline: float) -> VenueUpdate:
        if error.kind is Kind.UNKNOWN_OUTCOME:  # it may have happened: the caller asks again later
            raise ExchangeFailure(error)
        if error.code == NO_NEED_TO_MODIFY:  # already so at the venue (a modify sent again after a timeout)
            return amended(order, {"price": price, "origQty": quantity, "orderId": order.exchange_order_id}, Decimal(0))
        if error.code not in (REPLACE_FAILED, REPLACE_PARTIALLY_FAILED) and error.kind is not Kind.NOT_FOUND:
            report = error.report()
            raise AmendRejected(report.reason or Reason.EXCHANGE_REJECTED, error.message, error.code)
        doc = await self._look_up(order.symbol, order.client_order_id, deadline)
        if is_open(doc):  # the cancel half was refused and the order rests as it was
            raise AmendRejected(Reason.EXCHANGE_REJECTED, f"{error.message} (the order is "
                                                          f"{doc.get('status')} and unchanged)", error.code)
        if error.code == REPLACE_FAILED:  # the old order ended: by an earlier replace of ours, or by itself
            try:
                new = await self._look_up(order.symbol, replacement, deadline)
            except ExchangeFailure as failure:
                if failure.error.kind is not Kind.NOT_FOUND:
                    raise
            else:
                return amended(order, new, cumulative(order, doc), replacement)
        log.warning("amend of %s: %s; the order ended at the venue: %s", order.client_order_id, error.message,
                    doc.get("status"))
        return _final(order, doc)

    async def _look_up(self, symbol: str, client_order_id: str, deadline: float) -> Mapping[str, Any]:
        """The order's document; ExchangeFailure NOT_FOUND when Binance does not know it."""
        return await self._t.call(self._t.api.order_query, deadline, symbol=symbol, origClientOrderId=client_order_id)


def _final(order: Order, doc: Mapping[str, Any]) -> VenueUpdate:
    update = ended(order, doc)
    if update is None:  # -2011 for an order still open (cancelRestrictions, or a replace in flight)
        raise ExchangeFailure(ExchangeError(Kind.UNKNOWN_OUTCOME, f"order {order.client_order_id} is still "
                                                                  f"{doc.get('status')} at Binance"))
    return update
