"""CANCEL, CANCEL_ALL and AMEND intents: each answered with exactly one result.

An action works on orders already placed, through the same entry point as every other change to an
order (OrderLifecycle -> OrderBook.update), and records the intent that caused the change on the
order. That record is what makes a redelivered action safe: a CANCEL seen again after a crash finds
its target already canceled by itself and answers CANCELED again; an AMEND likewise answers AMENDED.
An AMEND is checked by risk as a new order would be: its size and price by the stateless checks and
the venue's filters, the change of the order's open quantity by the atomic gate.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import redis.asyncio as aioredis

from app.config import Settings
from app.exchange.base import ExchangeAdapter, Quote
from app.execution import results
from app.execution.lifecycle import OrderLifecycle
from app.execution.prepare import prepare
from app.execution.work import Work
from app.keys import Keys
from app.models.actions import OrderAction
from app.models.intent import Intent, client_order_id
from app.models.result import Reason, Status
from app.orders.machine import AmendRejected, Order, OrderStatus, VenueUpdate
from app.risk.checks import Limits
from app.state.gate import Admission, Candidate, Gate, Verdict
from app.state.ledger import Settlement

log = logging.getLogger(__name__)
CANCEL_INTENT, AMEND_INTENT = "CANCEL_INTENT", "AMEND_INTENT"


class ActionStage:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, lifecycle: OrderLifecycle,
                 exchange: ExchangeAdapter, gate: Gate, limits: Limits) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._orders = lifecycle
        self._book = lifecycle.book
        self._exchange = exchange
        self._gate = gate
        self._limits = limits
        self._mode = settings.execution_mode.value
        self._consumer = settings.consumer_name

    async def run(self, works: list[Work], received: float, now: float) -> None:
        """Carry out each action not answered yet; sets its settlement, or leaves it pending (BUSY)
        when the venue could not be reached."""
        for w in works:
            if w.admission is not None:  # answered before (DONE) or a duplicate intent id (DUP)
                continue
            action = w.parsed
            assert isinstance(action, OrderAction)
            if action.action != "AMEND":  # an AMEND is taken in flight by the gate, with its risk check
                claim = await self._gate.claim(action.intent_id, action.entry_id)
                if claim.verdict in (Verdict.BUSY, Verdict.DUP):  # in flight elsewhere, or answered
                    w.admission = claim
                    continue
            try:
                w.settlement = await (self._dead_letter(w, action, received, now) if w.dead_letter
                                      else self._carry_out(w, action, received, now))
            except Exception as exc:  # the venue away: the entry stays pending, redelivery tries again
                log.warning("%s %s: left pending: %s", action.action, action.intent_id, type(exc).__name__)
                w.admission = Admission(Verdict.BUSY)

    async def _dead_letter(self, w: Work, action: OrderAction, received: float, now: float) -> Settlement:
        """Delivered past MAX_DELIVERIES without an answer: answered FAILED so it never blocks the
        group, unless its change was made (then as it is), and what the gate holds for it released."""
        target = await self._book.get(action.target_intent_id) if action.target_intent_id else None
        held = await self._held(action)
        if target is not None and action.intent_id in target.causes:
            if action.action == "AMEND":
                return self._amended(action, target, held, received, now)
            return await self._carry_out(w, action, received, now)
        return self._answer(action, Status.FAILED, Reason.DEAD_LETTER, f"delivered {w.delivery.deliveries} times, "
                            f"more than MAX_DELIVERIES={self._settings.max_deliveries}", received, now, target,
                            release=held)

    async def _carry_out(self, w: Work, action: OrderAction, received: float, now: float) -> Settlement:
        if action.action == "CANCEL_ALL":
            return await self._cancel_all(action, received, now)
        assert action.target_intent_id is not None
        target = await self._book.get(action.target_intent_id)
        if action.action == "CANCEL":
            return await self._cancel(action, target, received, now)
        return await self._amend(w, action, target, received, now)

    # -- cancels ------------------------------------------------------------------------------
    async def _cancel(self, action: OrderAction, target: Order | None, received: float, now: float) -> Settlement:
        if target is not None and not target.status.final:
            await self._orders.cancel([target.intent_id], CANCEL_INTENT, action.intent_id)
            target = await self._book.get(target.intent_id)
            _confirmed([target])
        if target is not None and target.status is OrderStatus.CANCELED and action.intent_id in target.causes:
            return self._answer(action, Status.CANCELED, None, f"canceled; {target.remaining.normalize():f} "
                                f"{target.symbol} was left open", received, now, target,
                                remaining_quantity=float(target.remaining))
        return self._not_open(action, target, received, now)

    async def _cancel_all(self, action: OrderAction, received: float, now: float) -> Settlement:
        orders = await self._book.open_orders(action.symbol)
        await self._orders.cancel([o.intent_id for o in orders], CANCEL_INTENT, action.intent_id)
        _confirmed(await self._book.load(o.intent_id for o in orders))
        # counted on this intent's record by the changes themselves, so a redelivery counts them too
        canceled = int(await self._redis.hget(self._keys.order(action.intent_id), "canceled") or 0)
        where = f" on {action.symbol}" if action.symbol else ""
        return self._answer(action, Status.CANCELED, None, f"canceled {canceled} open orders{where}",
                            received, now, None, canceled_count=canceled)

    # -- amend --------------------------------------------------------------------------------
    async def _amend(self, w: Work, action: OrderAction, target: Order | None, received: float,
                     now: float) -> Settlement:
        held = await self._held(action)
        if target is not None and action.intent_id in target.causes:  # written before a crash
            return self._amended(action, target, held, received, now)
        if target is None or target.status.final or target.order_type != "LIMIT":
            return self._not_open(action, target, received, now, release=held)
        quantity = Decimal(repr(action.quantity)) if action.quantity is not None else target.quantity
        price = Decimal(repr(action.price)) if action.price is not None else target.price
        if quantity <= target.executed_qty:
            return self._answer(action, Status.REJECTED, Reason.AMEND_BELOW_FILLED,
                                f"quantity {quantity.normalize():f} is not above the "
                                f"{target.executed_qty.normalize():f} already filled", received, now, target,
                                release=held)
        as_new = _as_intent(action, target, quantity, price)  # the venue's filters see the whole order
        prepared = await prepare(as_new, self._exchange, self._limits, self._settings.binance_market,
                                 dict[str, Quote](), received)
        if prepared.denial is not None:
            return self._answer(action, results.status_for(prepared.denial.reason), prepared.denial.reason,
                                prepared.denial.message, received, now, target, release=held)
        assert prepared.request is not None
        new_remaining = prepared.request.quantity - target.executed_qty  # rounded to the lot step
        if new_remaining <= 0:
            return self._answer(action, Status.REJECTED, Reason.AMEND_BELOW_FILLED,
                                f"quantity {prepared.request.quantity.normalize():f} (rounded to the lot step) is "
                                f"not above the {target.executed_qty.normalize():f} already filled", received, now,
                                target, release=held)
        delta = float(new_remaining - target.remaining) * target.sign
        candidate = Candidate(intent_id=action.intent_id, entry_id=action.entry_id, symbol=target.symbol,
                              side=target.side, delta_qty=delta, price=prepared.price, reduce_only=target.reduce_only,
                              client_order_id=client_order_id(action.intent_id), precheck=None,
                              check_done=w.delivery.deliveries > 1, mark=prepared.mark)
        admission = (await self._gate.admit([candidate], int(received // 60)))[0]
        if admission.verdict not in (Verdict.OK, Verdict.DENY, Verdict.RESUME):
            raise RuntimeError(f"amend {action.intent_id} admitted as {admission.verdict}")
        if not admission.admitted:
            return self._answer(action, results.status_for(Reason(admission.reason)), Reason(admission.reason),
                                admission.message, received, now, target)
        reserved = admission.reserved_qty if admission.verdict is Verdict.RESUME else candidate.reservation
        new_quantity = prepared.request.quantity

        async def decide(order: Order) -> VenueUpdate:
            said = await self._exchange.amend_order(order, price, new_quantity)
            return replace(said, reason=AMEND_INTENT, cause_intent_id=action.intent_id)

        try:
            await self._orders.update([target.intent_id], decide)
        except AmendRejected as refused:  # the order stays as it was
            return self._answer(action, results.status_for(refused.reason), refused.reason, refused.message,
                                received, now, target, release=reserved)
        after = await self._book.get(target.intent_id) or target
        if action.intent_id not in after.causes and not after.status.final:
            raise RuntimeError(f"the venue did not confirm the amend of {target.intent_id}")  # pending: again
        return self._amended(action, after, reserved, received, now)

    async def _held(self, action: OrderAction) -> float:
        """What the gate still holds for this AMEND from an earlier delivery (0 when nothing)."""
        state, reserved = await self._redis.hmget(self._keys.order(action.intent_id), "state", "reserved_qty")
        return float(reserved) if state == b"OPEN" and reserved else 0.0

    def _amended(self, action: OrderAction, target: Order, reserved: float, received: float,
                 now: float) -> Settlement:
        """The answer once the amend is written: the gate's reservation for it is released, as the
        order's own record now holds the change."""
        if action.intent_id not in target.causes or target.status.final:  # a final answer is not an amend
            return self._not_open(action, target, received, now, release=reserved)
        price = f" at {target.price.normalize():f}" if target.price is not None else ""
        return self._answer(action, Status.AMENDED, None, f"order now {target.quantity.normalize():f}{price}",
                            received, now, target, release=reserved)

    # -- answers ------------------------------------------------------------------------------
    def _not_open(self, action: OrderAction, target: Order | None, received: float, now: float,
                  release: float = 0.0) -> Settlement:
        why = f"no order of intent {action.target_intent_id} is known" if target is None else \
            f"the order of intent {target.intent_id} is {target.status.value}"
        return self._answer(action, Status.REJECTED, Reason.ORDER_NOT_OPEN, why, received, now, target,
                            release=release)

    def _answer(self, action: OrderAction, status: Status, reason: Reason | None, message: str, received: float,
                now: float, target: Order | None, release: float = 0.0, **extra: object) -> Settlement:
        result = results.action(action, status, reason, message, target, self._mode, self._consumer, received,
                                now, **extra)
        return Settlement(result, status.lower(), record_order=True, release_qty=release)


def _as_intent(action: OrderAction, target: Order, quantity: Decimal, price: Decimal | None) -> Intent:
    """The amended order as a new order, for the same checks a new order gets."""
    return Intent(entry_id=action.entry_id, intent_id=action.intent_id, symbol=target.symbol, side=target.side,
                  quantity=float(quantity), notional_usd=None, leverage=target.leverage, order_type="LIMIT",
                  price=float(price) if price is not None else None, time_in_force="GTC",
                  reduce_only=target.reduce_only, created_at=action.created_at, source=action.source,
                  strategy=action.strategy, confidence=None, trace=action.trace)


def _confirmed(orders: list[Order | None]) -> None:
    """Raise when an order a cancel was sent for is still open: the venue did not confirm it (a
    failure of its call is logged where it happened), so the action stays pending and is tried again."""
    still = [o.intent_id for o in orders if o is not None and not o.status.final]
    if still:
        raise RuntimeError(f"the venue did not confirm the cancel of {', '.join(still[:5])}")
