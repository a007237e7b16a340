"""Tracing configured from OTEL_* variables, spans leaving in OTLP, and the FastAPI instrumentation."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.telemetry.tracer import LightTracerProvider
from app.telemetry.tracing import (
    TracingConfigError,
    instrument_app,
    otlp_traces_endpoint,
    provider_from_env,
    tracing_from_env,
)
from tests.utils.otlp import OtlpReceiver


@pytest.mark.parametrize("env", [
    {},
    {"OTEL_SERVICE_NAME": "x"},
    {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
    {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
    {"OTEL_TRACES_EXPORTER": "none"},
])
def test_no_exporter_means_no_sdk_provider(env: dict[str, str]) -> None:
    assert provider_from_env(env) is None
    assert not tracing_from_env(env).enabled


def test_endpoint_rules() -> None:
    assert otlp_traces_endpoint({}) is None
    assert otlp_traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    assert otlp_traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:9/x"}) == "http://t:9/x"


@pytest.mark.parametrize("env, variable", [
    ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
     "OTEL_EXPORTER_OTLP_PROTOCOL"),
])
def test_unsupported_configuration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(TracingConfigError, match=variable):
        provider_from_env(env)


def test_spans_leave_the_process_in_otlp_with_the_service_resource() -> None:
    with OtlpReceiver() as receiver:
        tracing = tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                    "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=desk1"},
                                   instance_id="pod-7")
        assert tracing.enabled
        with tracing.producer_span("trade.intent"):
            fields = tracing.inject()
        with tracing.process_span(fields, stream="trade.intent", entry_id="5-0", group="execution"):
            with tracing.exchange_span("POST /fapi/v1/order"):
                pass
        tracing.shutdown()
        spans = {span.name: span for span in receiver.wait_for_spans(3)}

    assert set(spans) == {"send trade.intent", "process trade.intent", "exchange POST /fapi/v1/order"}
    process = spans["process trade.intent"]
    assert process.kind == "CONSUMER"
    assert process.parent_span_id == spans["send trade.intent"].span_id
    assert process.links == [(spans["send trade.intent"].trace_id, spans["send trade.intent"].span_id)]
    assert process.attributes["messaging.message.id"] == "5-0"
    assert spans["exchange POST /fapi/v1/order"].kind == "CLIENT"
    assert spans["exchange POST /fapi/v1/order"].parent_span_id == process.span_id
    assert process.resource["service.name"] == "execution-service"
    assert process.resource["service.instance.id"] == "pod-7"
    assert {h.get("x-tenant") for h in receiver.headers} == {"desk1"}


def test_service_name_and_traces_endpoint_come_from_the_environment() -> None:
    with OtlpReceiver() as receiver:
        tracing = tracing_from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.endpoint}/v1/traces",
                                    "OTEL_SERVICE_NAME": "execution-blue"})
        with tracing.span("one"):
            pass
        tracing.shutdown()
        (span,) = receiver.wait_for_spans(1)
    assert span.resource["service.name"] == "execution-blue"


def test_receiver_rejects_what_a_collector_would_reject() -> None:
    with OtlpReceiver() as receiver:
        json_post = httpx.post(f"{receiver.endpoint}/v1/traces", content=b"{}",
                               headers={"Content-Type": "application/json"})
        wrong_path = httpx.post(f"{receiver.endpoint}/v1/metrics", content=b"",
                                headers={"Content-Type": "application/x-protobuf"})
    assert (json_post.status_code, wrong_path.status_code) == (415, 404)
    assert receiver.spans == []


async def test_api_requests_are_traced_except_probes_and_scrapes() -> None:
    exporter = InMemorySpanExporter()
    provider = LightTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()
    for path in ("/livez", "/readyz", "/metrics", "/orders"):
        app.add_api_route(path, lambda: {"ok": True})
    instrument_app(app, provider)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for path in ("/livez", "/readyz", "/metrics", "/orders"):
            assert (await client.get(path)).status_code == 200

    server_spans = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]
    assert [s.attributes.get("http.route") for s in server_spans] == ["/orders"]
    assert app._is_instrumented_by_opentelemetry


def test_instrument_app_without_provider_adds_nothing() -> None:
    app = FastAPI()
    instrument_app(app, None)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
