"""Later changes of an order (a fill against a quote, a cancel, an expiry) continue the trace of the
intent that placed it: the real runtime's pipeline and order lifecycle, PAPER venue, real Redis,
spans recorded in memory."""

from __future__ import annotations

from decimal import Decimal
from typing import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.cli.send import publish
from app.config import load_settings
from app.exchange.base import Quote
from app.runtime import Runtime
from app.telemetry.tracing import Tracing
from tests.telemetry.test_e2e_spans import children, process_span
from tests.telemetry.test_tracing_spans import exporter, tracing  # noqa: F401 (fixtures: an explicit provider)
from tests.utils.streams import intent

LIMIT = {"order_type": "LIMIT", "price": 91000, "quantity": 0.002}  # below the market (95000): it rests


@pytest.fixture
async def runtime(redis_url: str, tracing: Tracing) -> AsyncIterator[Runtime]:
    runtime = Runtime(load_settings({}, redis_url=redis_url, consumer_name="c1"), tracing=tracing)
    yield runtime
    await runtime.stop()


async def place(runtime: Runtime, exporter: InMemorySpanExporter, intent_id: str) -> ReadableSpan:
    """Send a resting LIMIT BUY through the pipeline; its ``send execution.result`` span, whose context
    the order keeps."""
    entry_id = await publish(runtime.redis, runtime.settings, intent(intent_id=intent_id, **LIMIT), runtime.tracing)
    await runtime.consumer.burst()
    process = process_span(exporter.get_finished_spans(), entry_id)
    assert process.attributes["execution.status"] == "NEW"
    return children(exporter.get_finished_spans(), process)["send execution.result"]


def order_spans(exporter: InMemorySpanExporter, name: str) -> dict[str, ReadableSpan]:
    return {s.attributes["execution.intent_id"]: s for s in exporter.get_finished_spans() if s.name == name}


def assert_child_of(span: ReadableSpan, parent: ReadableSpan) -> None:
    assert span.context.trace_id == parent.context.trace_id
    assert span.parent.span_id == parent.context.span_id and span.parent.is_remote
    assert span.kind is SpanKind.INTERNAL and span.start_time <= span.end_time


async def test_a_resting_orders_fill_continues_the_intents_trace(runtime: Runtime,
                                                                 exporter: InMemorySpanExporter) -> None:
    sent = await place(runtime, exporter, "rest-1")
    changes = await runtime.orders.on_quote("BTCUSDT", Quote(Decimal("90999.9"), Decimal("91000")), "q-1")
    assert [c.after.status.value for c in changes] == ["FILLED"]

    fill = order_spans(exporter, "order fill")["rest-1"]
    assert_child_of(fill, sent)
    (process,) = [s for s in exporter.get_finished_spans() if s.context.span_id == sent.parent.span_id]
    assert process.name == "process trade.intent" and fill.context.trace_id == process.context.trace_id
    (trade_id,) = changes[0].after.trades
    assert dict(fill.attributes) == {
        "execution.intent_id": "rest-1", "order.symbol": "BTCUSDT", "order.side": "BUY", "order.status": "FILLED",
        "order.seq": 2, "order.executed_qty": 0.002, "order.trade_id": trade_id, "order.last_fill_qty": 0.002,
        "order.last_fill_price": 91000.0, **_exchange_id(changes[0].after.exchange_order_id)}


async def test_cancels_and_expiries_continue_each_orders_trace(runtime: Runtime,
                                                               exporter: InMemorySpanExporter) -> None:
    sent = {i: await place(runtime, exporter, i) for i in ("keep-1", "cancel-1", "expire-1")}
    [canceled] = await runtime.orders.cancel(["cancel-1"], "KILL_SWITCH")
    [expired] = await runtime.orders.cancel(["expire-1"], "EXPIRE_AFTER", expire=True)
    assert (canceled.after.status.value, expired.after.status.value) == ("CANCELED", "EXPIRED")

    cancel, expire = order_spans(exporter, "order cancel"), order_spans(exporter, "order expire")
    assert set(cancel) == {"cancel-1"} and set(expire) == {"expire-1"}
    assert_child_of(cancel["cancel-1"], sent["cancel-1"])
    assert_child_of(expire["expire-1"], sent["expire-1"])
    assert (cancel["cancel-1"].attributes["order.status"], cancel["cancel-1"].attributes["order.reason"]) == \
        ("CANCELED", "KILL_SWITCH")
    assert (expire["expire-1"].attributes["order.status"], expire["expire-1"].attributes["order.reason"]) == \
        ("EXPIRED", "EXPIRE_AFTER")
    assert "order.trade_id" not in cancel["cancel-1"].attributes
    assert len({s.context.trace_id for s in sent.values()}) == 3



async def test_a_cancel_intent_cancels_in_the_orders_trace_and_names_itself(runtime: Runtime,
                                                                          exporter: InMemorySpanExporter) -> None:
    sent = await place(runtime, exporter, "rest-2")
    entry_id = await publish(runtime.redis, runtime.settings,
                             {"action": "CANCEL", "intent_id": "c-1", "target_intent_id": "rest-2"}, runtime.tracing)
    await runtime.consumer.burst()

    spans = exporter.get_finished_spans()
    assert process_span(spans, entry_id).attributes["execution.status"] == "CANCELED"
    cancel = order_spans(exporter, "order cancel")["rest-2"]
    assert_child_of(cancel, sent)  # the order's trace, not the cancel intent's
    assert (cancel.attributes["order.reason"], cancel.attributes["order.cause_intent_id"]) == ("CANCEL_INTENT", "c-1")


def _exchange_id(exchange_order_id: str | None) -> dict[str, str]:
    return {"order.exchange_order_id": exchange_order_id} if exchange_order_id else {}
