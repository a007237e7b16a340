"""The span tree of one intent, recorded with an InMemorySpanExporter on an explicit provider."""

from __future__ import annotations

from typing import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.telemetry.tracer import LightTracerProvider
from app.telemetry.tracing import EXCHANGE_ENDPOINT, EXCHANGE_OUTCOME, Tracing, extract

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    provider = LightTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    yield tracing
    tracing.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def run_intent(tracing: Tracing, fields: dict) -> dict[str, str]:
    """What the pipeline does for one entry; returns the fields injected into the result entry."""
    with tracing.process_span(fields, stream="trade.intent", entry_id=b"1700000000000-0", group="execution"):
        with tracing.span("risk evaluate", attributes={"risk.outcome": "accepted"}):
            pass
        with tracing.exchange_span("POST /fapi/v1/order") as span:
            span.set_attribute(EXCHANGE_OUTCOME, "ok")
        with tracing.span("state write"):
            pass
        with tracing.producer_span("execution.result"):
            return tracing.inject()


def test_one_trace_from_producer_to_result(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    with tracing.producer_span("trade.intent"):
        intent_fields = {"data": "{}", **tracing.inject()}
    assert set(intent_fields) >= {"traceparent"}
    result_fields = run_intent(tracing, intent_fields)

    spans = by_name(exporter)
    assert set(spans) == {"send trade.intent", "process trade.intent", "risk evaluate",
                          "exchange POST /fapi/v1/order", "state write", "send execution.result"}
    assert len({span.context.trace_id for span in spans.values()}) == 1

    producer, process = spans["send trade.intent"], spans["process trade.intent"]
    assert producer.kind is SpanKind.PRODUCER and producer.parent is None
    assert process.kind is SpanKind.CONSUMER
    assert process.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in process.links] == [producer.context.span_id]
    for child in ("risk evaluate", "exchange POST /fapi/v1/order", "state write", "send execution.result"):
        assert spans[child].parent.span_id == process.context.span_id, child

    exchange = spans["exchange POST /fapi/v1/order"]
    assert exchange.kind is SpanKind.CLIENT
    assert exchange.attributes[EXCHANGE_ENDPOINT] == "POST /fapi/v1/order"
    assert exchange.attributes[EXCHANGE_OUTCOME] == "ok"
    assert spans["risk evaluate"].kind is SpanKind.INTERNAL
    assert spans["send execution.result"].kind is SpanKind.PRODUCER
    assert spans["send execution.result"].attributes["messaging.destination.name"] == "execution.result"

    # A downstream consumer of the result continues the same trace, under the result's producer span.
    downstream = extract(result_fields)
    parent = trace.get_current_span(downstream).get_span_context()
    assert parent.trace_id == producer.context.trace_id
    assert parent.span_id == spans["send execution.result"].context.span_id


def test_process_span_messaging_attributes(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    run_intent(tracing, {"traceparent": TRACEPARENT})
    process = by_name(exporter)["process trade.intent"]
    assert dict(process.attributes) == {
        "messaging.system": "redis",
        "messaging.destination.name": "trade.intent",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.message.id": "1700000000000-0",
        "messaging.consumer.group.name": "execution",
    }
    assert format(process.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(process.parent.span_id, "016x") == "b7ad6b7169203331"
    assert process.parent.is_remote


def test_bytes_fields_as_read_from_redis_continue_the_trace(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    run_intent(tracing, {b"data": b"{}", b"traceparent": TRACEPARENT.encode(), b"tracestate": b"vendor=abc"})
    process = by_name(exporter)["process trade.intent"]
    assert format(process.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert process.context.trace_state.get("vendor") == "abc"


def test_tracestate_travels_to_the_result(tracing: Tracing) -> None:
    fields = run_intent(tracing, {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"})
    assert fields["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert fields["tracestate"] == "vendor=abc"


@pytest.mark.parametrize("fields", [{}, {"data": "{}"}, {"traceparent": "garbage"},
                                    {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"}])
def test_without_a_valid_producer_context_the_process_span_is_a_root(
        tracing: Tracing, exporter: InMemorySpanExporter, fields: dict) -> None:
    run_intent(tracing, fields)
    process = by_name(exporter)["process trade.intent"]
    assert process.parent is None
    assert list(process.links) == []


def test_an_exception_marks_the_span_failed(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(TimeoutError):
        with tracing.process_span({}, stream="trade.intent", entry_id="1-0", group="execution"):
            with tracing.exchange_span("POST /api/v3/order"):
                raise TimeoutError("exchange did not answer")
    exchange = by_name(exporter)["exchange POST /api/v3/order"]
    assert exchange.status.status_code is StatusCode.ERROR
    assert [event.name for event in exchange.events] == ["exception"]


def test_disabled_tracing_records_nothing_but_passes_the_context_through() -> None:
    tracing = Tracing(None)
    assert not tracing.enabled
    fields = run_intent(tracing, {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"})
    assert fields == {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"}
    assert run_intent(tracing, {}) == {}
    tracing.shutdown()


def test_shutdown_flushes_batched_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = LightTracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracing = Tracing(provider)
    run_intent(tracing, {})
    assert exporter.get_finished_spans() == ()
    tracing.shutdown()
    assert len(exporter.get_finished_spans()) == 5


def test_batch_form_keeps_each_entry_in_its_own_trace(tracing: Tracing, exporter: InMemorySpanExporter) -> None:
    """A batch pipeline holds one process span per entry and parents each stage's spans explicitly."""
    entries = {"1-0": "0af7651916cd43dd8448eb211c80319c", "2-0": "1bf7651916cd43dd8448eb211c80319d"}
    processes = {entry_id: tracing.start_process({"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
                                                 stream="trade.intent", entry_id=entry_id, group="execution")
                 for entry_id, trace_id in entries.items()}
    risk = {e: tracing.start_span("risk evaluate", parent=p) for e, p in processes.items()}
    for span in risk.values():
        tracing.finish(span)
    calls = {e: tracing.start_exchange("order", parent=p) for e, p in processes.items()}
    tracing.finish(calls["1-0"])
    tracing.finish(calls["2-0"], TimeoutError("no answer"))
    sends = {e: tracing.start_producer("execution.result", parent=p) for e, p in processes.items()}
    injected = {e: tracing.inject(span) for e, span in sends.items()}
    for span in [*sends.values(), *processes.values()]:
        tracing.finish(span)

    assert {e: fields["traceparent"].split("-")[1] for e, fields in injected.items()} == entries
    finished = exporter.get_finished_spans()
    assert len(finished) == 8
    for entry_id, process in processes.items():
        span_id = process.get_span_context().span_id
        children = [s for s in finished if s.parent is not None and s.parent.span_id == span_id]
        assert sorted(s.name for s in children) == ["exchange order", "risk evaluate", "send execution.result"]
        assert {s.context.trace_id for s in children} == {process.get_span_context().trace_id}
    failed = [s for s in finished if s.status.status_code is StatusCode.ERROR]
    assert [(s.name, s.parent.span_id) for s in failed] == [
        ("exchange order", processes["2-0"].get_span_context().span_id)]


def test_current_makes_a_held_span_current_without_ending_it(tracing: Tracing) -> None:
    span = tracing.start_span("state write")
    with tracing.current(span):
        assert trace.get_current_span() is span
        assert tracing.inject()["traceparent"].split("-")[2] == format(span.get_span_context().span_id, "016x")
    assert span.is_recording()
    tracing.finish(span)
    assert not span.is_recording()
