"""What the pipeline carries: a stream entry as delivered (``Delivery``), and everything learned about it on the way."""

from __future__ import annotations

from dataclasses import dataclass

from app.bus.delivery import Delivery
from app.exchange.base import ExecutionReport, StagedOrder
from app.execution.prepare import Prepared
from app.execution.spans import IntentTrace
from app.models.intent import Intent, InvalidIntent
from app.state.gate import Admission
from app.state.ledger import Settlement


@dataclass(slots=True)
class Work:
    delivery: Delivery
    parsed: Intent | InvalidIntent
    trace: IntentTrace
    prepared: Prepared | None = None
    admission: Admission | None = None
    staged: StagedOrder | ExecutionReport | None = None  # a gate-booked venue's order, or its answer
    settlement: Settlement | None = None
    dead_letter: bool = False
    report: ExecutionReport | None = None
    settled: bool = False  # settled inside the admission call
