"""The lean tracer keeps the SDK's semantics: sampling, limits, status rules, one export per span."""

from __future__ import annotations

import io
import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from app.telemetry.tracer import LIMIT, LightSpan, LightTracerProvider
from app.telemetry.tracing import TracingConfigError, sampler_from_env


def provider_with(sampler: sampling.Sampler = sampling.ALWAYS_ON) -> tuple[trace.Tracer, InMemorySpanExporter]:
    provider = LightTracerProvider(sampler=sampler)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("t"), exporter


def remote(sampled: bool) -> trace.Context:
    ctx = SpanContext(0x1234, 0x5678, True, TraceFlags(TraceFlags.SAMPLED if sampled else 0))
    return trace.set_span_in_context(NonRecordingSpan(ctx))


def test_children_share_the_trace_and_point_at_their_parent() -> None:
    tracer, exporter = provider_with()
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child") as child:
            assert trace.get_current_span() is child
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["child"].context.trace_id == root.get_span_context().trace_id
    assert finished["child"].parent.span_id == root.get_span_context().span_id
    assert finished["root"].parent is None
    assert finished["child"].start_time <= finished["child"].end_time <= finished["root"].end_time


def test_a_span_is_exported_once_and_frozen_when_ended() -> None:
    tracer, exporter = provider_with()
    span = tracer.start_span("once")
    span.end()
    span.end()
    span.set_attribute("late", 1)
    span.update_name("renamed")
    span.add_event("late")
    assert [(s.name, dict(s.attributes), len(s.events)) for s in exporter.get_finished_spans()] == [("once", {}, 0)]
    assert not span.is_recording()


def test_limits_count_what_is_dropped() -> None:
    tracer, exporter = provider_with()
    span = tracer.start_span("busy", attributes={f"a{i}": i for i in range(LIMIT + 2)})
    span.set_attribute("a0", "overwritten")  # an existing key still updates at the limit
    for i in range(LIMIT + 1):
        span.add_event(f"e{i}")
    span.end()
    (done,) = exporter.get_finished_spans()
    assert (len(done.attributes), done.dropped_attributes) == (LIMIT, 2)
    assert done.attributes["a0"] == "overwritten"
    assert (len(done.events), done.dropped_events) == (LIMIT, 1)


def test_invalid_attribute_values_are_dropped_and_sequences_kept_as_tuples() -> None:
    tracer, exporter = provider_with()
    span = tracer.start_span("values")
    span.set_attributes({"obj": object(), "none": None, "list": ["a", None], "mixed": [{"x": 1}], "": "no key"})
    span.end()
    assert dict(exporter.get_finished_spans()[0].attributes) == {"list": ("a", None)}


def test_status_ok_is_final_and_unset_changes_nothing() -> None:
    tracer, exporter = provider_with()
    failed, ok = tracer.start_span("failed"), tracer.start_span("ok")
    failed.set_status(StatusCode.ERROR, "boom")
    failed.set_status(Status(StatusCode.UNSET))
    ok.set_status(StatusCode.OK)
    ok.set_status(Status(StatusCode.ERROR, "too late"))
    failed.end()
    ok.end()
    status = {s.name: (s.status.status_code, s.status.description) for s in exporter.get_finished_spans()}
    assert status == {"failed": (StatusCode.ERROR, "boom"), "ok": (StatusCode.OK, None)}


def test_an_exception_inside_a_current_span_is_recorded() -> None:
    tracer, exporter = provider_with()
    with pytest.raises(KeyError), tracer.start_as_current_span("lookup"):
        raise KeyError("BTCUSDT")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"
    assert "KeyError" in event.attributes["exception.stacktrace"]


@pytest.mark.parametrize("sampler, parent, exported, flags", [
    (sampling.ALWAYS_OFF, None, 0, 0),
    (sampling.ParentBased(sampling.ALWAYS_ON), remote(sampled=False), 0, 0),
    (sampling.ParentBased(sampling.ALWAYS_OFF), remote(sampled=True), 1, 1),
    (sampling.TraceIdRatioBased(0.0), None, 0, 0),
])
def test_sampling_decides_what_is_recorded(sampler: sampling.Sampler, parent: trace.Context | None,
                                           exported: int, flags: int) -> None:
    tracer, exporter = provider_with(sampler)
    span = tracer.start_span("s", parent)
    assert span.get_span_context().is_valid  # a dropped span still carries a context onwards
    assert span.get_span_context().trace_flags == flags
    assert isinstance(span, LightSpan) == bool(exported)
    span.end()
    assert len(exporter.get_finished_spans()) == exported


def test_ratio_sampling_keeps_about_its_share() -> None:
    tracer, exporter = provider_with(sampling.TraceIdRatioBased(0.25))
    for _ in range(4000):
        tracer.start_span("s").end()
    assert 800 < len(exporter.get_finished_spans()) < 1200


@pytest.mark.parametrize("env, variable", [
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"),
])
def test_bad_sampler_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(TracingConfigError, match=f"^{variable}:"):
        sampler_from_env(env)


def test_sampler_from_env_builds_the_sdk_samplers() -> None:
    assert sampler_from_env({}).get_description() == sampling.ParentBased(sampling.ALWAYS_ON).get_description()
    ratio = sampler_from_env({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    assert ratio.get_description() == sampling.ParentBasedTraceIdRatio(0.1).get_description()


def test_console_exporter_prints_json_spans() -> None:
    out = io.StringIO()
    provider = LightTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    provider.get_tracer("t").start_span("printed", kind=SpanKind.CLIENT, attributes={"k": "v"}).end()
    printed = json.loads(out.getvalue())
    assert (printed["name"], printed["attributes"], printed["kind"]) == ("printed", {"k": "v"}, "SpanKind.CLIENT")
