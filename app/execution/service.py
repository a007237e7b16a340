"""The intent pipeline: a batch of stream entries in, exactly one result per entry out.

Per batch, three Redis round trips: the admission gate for every intent, the venue (concurrent
requests for Binance), and settlement (result, state and XACK together). A venue whose book is in
Redis (PAPER) books its orders inside the gate's script call, which also settles those that fill
as priced: one round trip, and a second for any other outcome.
An entry whose order outcome is unknown is left pending and resolved on redelivery. Each entry
gets its own span tree (app/execution/spans.py) around those shared round trips.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.bus.delivery import Delivery
from app.config import Settings
from app.exchange.base import ExchangeAdapter, ExecutionReport, GateBookedVenue, Quote, StagedOrder
from app.execution.actions import ActionStage
from app.execution.lifecycle import OrderLifecycle
from app.execution.observe import ResultMetrics
from app.execution.outcome_log import OutcomeLog
from app.execution.prepare import prepare
from app.execution.settlements import Settlements
from app.execution.spans import PipelineSpans
from app.execution.venue import VenueStage
from app.execution.work import Work
from app.keys import Keys
from app.models.actions import OrderAction
from app.models.intent import Intent, InvalidIntent, decode_fields
from app.models.result import Reason, Status
from app.risk.checks import Denial, limits_from_settings
from app.state.gate import Admission, Candidate, Gate, Verdict
from app.state.ledger import Ledger, Settlement
from app.state.scripts import Scripts
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing

log = logging.getLogger(__name__)

# The exchange order id in a FILLED settlement prepared before booking: main_gate_paper.lua writes
# the booked order's id in its place.
ORDER_ID_SLOT = "{paper-order-id}"


class IntentProcessor:
    def __init__(self, settings: Settings, redis: aioredis.Redis, keys: Keys, scripts: Scripts,
                 exchange: ExchangeAdapter, metrics: Metrics, tracing: Tracing | None = None,
                 orders: OrderLifecycle | None = None) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._exchange = exchange
        self._booking = exchange if isinstance(exchange, GateBookedVenue) else None
        self._metrics = metrics
        self._limits = limits_from_settings(settings)
        self._gate = Gate(keys, scripts, self._limits, settings.idempotency_ttl_s)
        self._ledger = Ledger(keys, scripts, settings)
        self._mode = settings.execution_mode.value
        self._consumer = settings.consumer_name
        self._settlements = Settlements(self._mode, self._consumer)
        self._results = ResultMetrics(metrics, self._mode)
        self.outcome_log = OutcomeLog(settings.outcome_log_max_per_s)
        self._spans = PipelineSpans(tracing or Tracing(), keys)
        self._venue = VenueStage(exchange, self._spans)
        self.orders = orders or OrderLifecycle.build(settings, redis, keys, scripts, exchange, metrics,
                                                     self._spans.tracing)
        self._actions = ActionStage(settings, redis, keys, self.orders, exchange, self._gate, self._limits)

    async def process(self, deliveries: list[Delivery]) -> int:
        """Answer what can be answered; returns how many entries were acknowledged.

        A failure that is not Redis being away is retried entry by entry, so one poison entry
        stays pending (and is dead-lettered after MAX_DELIVERIES) without holding back the batch.
        """
        try:
            return await self._process(deliveries)
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except Exception:
            if len(deliveries) == 1:
                log.exception("intent entry %s failed and stays pending", deliveries[0].entry_id)
                return 0
            log.exception("batch of %d failed; retrying its entries one by one", len(deliveries))
        acked = 0
        for delivery in deliveries:
            try:
                acked += await self._process([delivery])
            except (RedisConnectionError, RedisTimeoutError):
                raise
            except Exception:
                log.exception("intent entry %s failed and stays pending", delivery.entry_id)
        return acked

    async def _process(self, deliveries: list[Delivery]) -> int:
        received = time.time()
        self._metrics.intents_received.inc(len(deliveries))
        works = [self._decode(d) for d in deliveries]
        try:
            quotes: dict[str, Quote] = {}
            room = await self._open_order_room(works)
            for w in works:
                if isinstance(w.parsed, Intent):
                    self._spans.risk(w.trace, w.parsed.intent_id)
                    w.prepared = await prepare(w.parsed, self._exchange, self._limits,
                                               self._settings.binance_market, quotes, received)
                    if w.prepared.denial is None and _may_rest(w.parsed):
                        room -= 1
                        if room < 0:
                            w.prepared.denial = Denial(Reason.OPEN_ORDER_LIMIT, "MAX_OPEN_ORDERS="
                                                       f"{self._settings.max_open_orders} orders are open")
                            w.prepared.request = None
                    if self._booking is not None and w.prepared.request is not None \
                            and w.prepared.denial is None and not w.dead_letter:
                        w.staged = await self._booking.stage(w.prepared.request)
            if self._booking is not None:
                await self._booking.number([w.staged for w in works if isinstance(w.staged, ExecutionReport)
                                            and w.staged.status is Status.NEW])
            acked = await self._admit(works, received)
            await self._venue.run(works)
            actions = [w for w in works if isinstance(w.parsed, OrderAction)]
            if actions:
                await self._actions.run(actions, received, time.time())
            return acked + await self._settle(works, received)
        except BaseException as exc:
            for w in works:
                self._spans.end(w.trace, "ERROR", error=exc)
            raise

    async def _open_order_room(self, works: list[Work]) -> int:
        """How many more orders may rest: read only for a batch with an order that may."""
        if not any(isinstance(w.parsed, Intent) and _may_rest(w.parsed) for w in works):
            return 0
        return self._settings.max_open_orders - await self.orders.book.count_open()

    def _decode(self, delivery: Delivery) -> Work:
        parsed = decode_fields(delivery.entry_id, delivery.fields, self._settings.max_intent_bytes)
        trace = self._spans.begin(delivery.entry_id, parsed.trace)
        return Work(delivery, parsed, trace, dead_letter=delivery.deliveries > self._settings.max_deliveries)

    # -- round trip 1: admission (PAPER: and booking, and settling what fills) ------------------
    async def _admit(self, works: list[Work], now: float) -> int:
        """Admit the batch; returns how many entries were settled in the same call (PAPER)."""
        pipe = self._redis.pipeline(transaction=False)
        answered_checks: list[Work] = []
        candidates: list[tuple[Work, Candidate]] = []
        for w in works:
            redelivered = w.delivery.deliveries > 1
            if isinstance(w.parsed, OrderAction):  # answered (this entry) or a duplicate (its intent id)?
                answered_checks.append(w)
                pipe.get(self._keys.entry_done(w.delivery.entry_id))
                pipe.hmget(self._keys.order(w.parsed.intent_id), "state", "result")
                continue
            if isinstance(w.parsed, InvalidIntent):
                if redelivered:  # an invalid entry has no intent id: only its entry marker tells
                    answered_checks.append(w)
                    pipe.get(self._keys.entry_done(w.delivery.entry_id))
                continue
            prep = w.prepared
            assert prep is not None
            qty = float(prep.request.quantity) if prep.request else 0.0
            candidates.append((w, Candidate(
                intent_id=w.parsed.intent_id, entry_id=w.delivery.entry_id, symbol=w.parsed.symbol,
                side=w.parsed.side, delta_qty=qty * w.parsed.sign, price=prep.price, reduce_only=w.parsed.reduce_only,
                client_order_id=w.parsed.client_order_id, check_done=redelivered,
                precheck=self._dead_letter_denial(w) if w.dead_letter else prep.denial, mark=prep.mark)))
        if answered_checks:
            replies = iter(await pipe.execute())
            for w in answered_checks:
                done = next(replies)
                record = next(replies) if isinstance(w.parsed, OrderAction) else (None, None)
                if done:
                    w.admission = Admission(Verdict.DONE, result_id=done.decode())
                elif record[0] == b"DONE":
                    w.admission = Admission(Verdict.DUP, result_json=record[1].decode())
        if not candidates:
            return 0
        if self._booking is not None and any(isinstance(w.staged, StagedOrder) for w, _ in candidates):
            return await self._admit_and_book(candidates, now)
        for (w, _), admission in zip(candidates, await self._gate.admit([c for _, c in candidates], int(now // 60))):
            self._admitted(w, admission)
        return 0

    async def _admit_and_book(self, candidates: list[tuple[Work, Candidate]], received: float) -> int:
        """One call admits, books each admitted order and settles each that fills as priced: for a
        first delivery, the FILLED settlement is prepared before the call (its exchange order id
        left for the script to fill in) and used when the booking fills; any other outcome is
        settled afterwards, like every outcome of the other venues."""
        assert self._booking is not None
        now = time.time()
        prepared: list[tuple[bytes, str, bytes, bytes] | None] = []
        for w, _ in candidates:
            if isinstance(w.staged, StagedOrder) and w.delivery.deliveries == 1:
                assert isinstance(w.parsed, Intent) and w.prepared is not None
                w.settlement = self._settlements.answered(
                    w.parsed, Admission(Verdict.OK, admitted=True), w.prepared,
                    self._booking.expected(w.staged, ORDER_ID_SLOT), None, received, now)
                self._spans.settle(w.trace, w.settlement)
                prepared.append(w.settlement.encode())
            else:
                prepared.append(None)
        started, started_ns = time.perf_counter(), time.time_ns()
        answers = await self._gate.admit_and_book(
            [c for _, c in candidates], int(received // 60),
            (self._booking.script_keys(), self._booking.script_args()),
            [w.staged.payload if isinstance(w.staged, StagedOrder) else b"" for w, _ in candidates],
            (self._ledger.script_keys(), self._ledger.script_args(int(now * 1000))), prepared)
        elapsed = time.perf_counter() - started
        settled = 0
        for (w, _), answer in zip(candidates, answers):
            self._admitted(w, answer.admission)
            if answer.admission.verdict is Verdict.OK and isinstance(w.staged, StagedOrder):
                report = self._booking.booked(w.staged, answer.booking, elapsed)
                self._spans.booked(w.trace, started_ns, report)
                self._venue.take(w, report)
            if answer.settled is None:
                w.settlement = None  # not used: settled below with the rest
                continue
            w.settled = True
            settled += self._finished(w, *Ledger.outcome(answer.settled), received, now)
        return settled

    def _admitted(self, w: Work, admission: Admission) -> None:
        if admission.verdict is Verdict.ERR:
            log.error("admitting intent entry %s failed: %s", w.delivery.entry_id, admission.message)
        w.admission = admission
        self._spans.risk_done(w.trace, admission)
        if admission.verdict is Verdict.OK and isinstance(w.staged, ExecutionReport):
            w.report = w.staged  # the venue answered without booking (a filter, a resting LIMIT)

    def _dead_letter_denial(self, w: Work) -> Denial:
        return Denial(Reason.DEAD_LETTER, f"delivered {w.delivery.deliveries} times, more than "
                                          f"MAX_DELIVERIES={self._settings.max_deliveries}")

    # -- round trip 2: the venue (app/execution/venue.py) -------------------------------------

    # -- last round trip: settlement ----------------------------------------------------------
    async def _settle(self, works: list[Work], received: float) -> int:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        acks: list[Work] = []
        settling: list[Work] = []
        for w in works:
            if w.settled:
                continue
            verdict = w.admission.verdict if w.admission is not None else None
            if verdict in (Verdict.BUSY, Verdict.ERR):
                self._spans.end(w.trace, "PENDING")
                continue
            if verdict is Verdict.DONE:
                acks.append(w)
                pipe.xack(self._keys.intent_stream, self._keys.group, w.delivery.entry_id)
                continue
            w.settlement = self._settlement(w, received, now)
            self._spans.settle(w.trace, w.settlement)
            if w.settlement.result.reason == Reason.DEAD_LETTER:
                self._queue_dead_letter(pipe, w)
            settling.append(w)
        acked = 0
        if len(pipe):  # acknowledgements of answered entries and dead-letter copies, before settling
            replies = await pipe.execute(raise_on_error=False)
            for w, reply in zip(acks, replies):
                if not isinstance(reply, BaseException):
                    acked += 1
                    self._spans.end(w.trace, "ACKNOWLEDGED")
        if not settling:
            return acked
        try:
            outcomes = await self._ledger.settle([w.settlement for w in settling if w.settlement], int(now * 1000))
        except ResponseError as exc:
            log.error("settling a batch of %d failed: %s", len(settling), exc)
            for w in settling:
                self._spans.end(w.trace, "PENDING", error=exc)
            return acked
        for w, (kind, detail) in zip(settling, outcomes):
            acked += self._finished(w, kind, detail, received, now)
        return acked

    def _finished(self, w: Work, kind: str, detail: str, received: float, now: float) -> int:
        """Account for one entry's settlement outcome; 1 when the entry is now acknowledged."""
        assert w.settlement is not None
        if kind == "ERR":
            with self._spans.current(w.trace):
                log.error("settling intent entry %s failed: %s", w.delivery.entry_id, detail)
            self._spans.end(w.trace, "PENDING", error=RuntimeError(detail))
            return 0
        self._spans.settle_done(w.trace, detail)
        if kind == "OK":
            result = w.settlement.result
            self._results.observe(result, received, now)
            if self.outcome_log.take(result.status):
                with self._spans.current(w.trace):
                    self.outcome_log.line(result, now - received)
            self._spans.end(w.trace, result.status, result.reason)
        else:
            self._spans.end(w.trace, "ACKNOWLEDGED")  # answered meanwhile by another replica
        return 1

    def _settlement(self, w: Work, received: float, now: float) -> Settlement:
        if isinstance(w.parsed, OrderAction):
            if w.admission is not None and w.admission.verdict is Verdict.DUP:
                assert w.admission.result_json is not None
                return self._settlements.duplicate(w.admission.result_json, w.delivery.entry_id, received, now)
            assert w.settlement is not None
            return w.settlement
        if isinstance(w.parsed, InvalidIntent):
            return self._settlements.invalid(w.parsed, w.dead_letter, received, now)
        assert w.admission is not None and w.prepared is not None
        denial = self._dead_letter_denial(w) if w.dead_letter else w.prepared.denial
        return self._settlements.answered(w.parsed, w.admission, w.prepared, w.report, denial, received, now)

    def _queue_dead_letter(self, pipe: Any, w: Work) -> None:
        fields = {(k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): v
                  for k, v in w.delivery.fields.items()}
        fields.update({"dlq_entry_id": w.delivery.entry_id, "dlq_deliveries": str(w.delivery.deliveries),
                       "dlq_consumer": self._consumer})
        pipe.xadd(self._keys.dlq_stream, fields, maxlen=self._settings.kept_intents, approximate=True)
        self._metrics.dead_letters.inc()


def _may_rest(intent: Intent) -> bool:
    """A LIMIT GTC order may rest on the book (IOC and FOK never do)."""
    return intent.order_type == "LIMIT" and intent.time_in_force == "GTC"
