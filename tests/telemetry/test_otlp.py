"""The hand-written OTLP encoder against the SDK's own: the same spans must decode to the same request."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace import TraceState, set_span_in_context

from app.telemetry.otlp import encode_spans, varint
from app.telemetry.tracer import LightTracerProvider

REMOTE = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1),
                     TraceState([("vendor", "abc"), ("other", "1")]))


def record(*providers: LightTracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def same_as_sdk(spans: Any) -> ExportTraceServiceRequest:
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode_spans(spans)
    return ours


def test_varint_matches_protobuf_for_edges() -> None:
    assert [varint(n) for n in (0, 1, 127, 128, 300)] == [b"\x00", b"\x01", b"\x7f", b"\x80\x01", b"\xac\x02"]
    assert varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes


def test_a_trace_of_every_span_shape_encodes_as_the_sdk_does() -> None:
    provider = LightTracerProvider(Resource.create({"service.name": "execution-service", "pod": "p-1"}))
    other = LightTracerProvider(Resource.create({"service.name": "execution-cli"}))
    exporter = record(provider, other)
    tracer = provider.get_tracer("app.execution", "1.2.3")
    api = provider.get_tracer("opentelemetry.instrumentation.fastapi", schema_url="https://opentelemetry.io/schemas/1.11.0",
                              attributes={"scope.kind": "http"})
    process = tracer.start_span("process trade.intent", set_span_in_context(NonRecordingSpan(REMOTE)),
                                SpanKind.CONSUMER, {"messaging.message.id": "5-0", "n": 3, "neg": -7, "ratio": 0.25,
                                                    "ok": True, "raw": b"\x00\x01", "tags": ("a", "b"),
                                                    "nums": [1, 2, 3], "flags": (True, None)},
                                links=[Link(REMOTE, {"link.kind": "producer"})])
    child = tracer.start_span("exchange order_create", set_span_in_context(process), SpanKind.CLIENT)
    child.record_exception(TimeoutError("venue slow"))
    child.set_status(Status(StatusCode.ERROR, "TimeoutError"))
    child.end()
    server = api.start_span("GET /status", kind=SpanKind.SERVER)
    server.set_status(StatusCode.OK)
    server.end()
    process.end()
    with other.get_tracer("app.cli").start_as_current_span("send trade.intent", kind=SpanKind.PRODUCER):
        pass

    request = same_as_sdk(exporter.get_finished_spans())
    assert [len(r.scope_spans) for r in request.resource_spans] == [2, 1]
    span = next(s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans
                if s.name == "process trade.intent")
    assert span.trace_state == "vendor=abc,other=1"
    assert span.parent_span_id == REMOTE.span_id.to_bytes(8, "big")


scalar = st.one_of(st.text(max_size=20), st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1),
                   st.floats(allow_nan=False), st.binary(max_size=8))
values = st.one_of(scalar, st.lists(st.one_of(st.text(max_size=5), st.none()), max_size=4),
                   st.lists(st.integers(min_value=-2**63, max_value=2**63 - 1), max_size=4))


@settings(max_examples=200, deadline=None)
@given(attributes=st.dictionaries(st.text(min_size=1, max_size=15), values, max_size=8),
       events=st.lists(st.tuples(st.text(max_size=10), st.dictionaries(st.text(min_size=1, max_size=5), scalar,
                                                                        max_size=3)), max_size=3),
       name=st.text(max_size=30), description=st.one_of(st.none(), st.text(max_size=20)),
       kind=st.sampled_from(list(SpanKind)))
def test_any_attributes_and_events_encode_as_the_sdk_does(attributes: dict[str, Any], events: list[Any], name: str,
                                                          description: str | None, kind: SpanKind) -> None:
    provider = LightTracerProvider(Resource.create({"service.name": "x"}))
    exporter = record(provider)
    span = provider.get_tracer("t").start_span(name, kind=kind, attributes=attributes)
    for event_name, event_attributes in events:
        span.add_event(event_name, event_attributes, timestamp=1_700_000_000_000_000_000)
    if description is not None:
        span.set_status(Status(StatusCode.ERROR, description))
    span.end()
    same_as_sdk(exporter.get_finished_spans())
