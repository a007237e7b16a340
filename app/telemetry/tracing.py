"""Traces across the intent stream: producer -> ``process trade.intent`` -> children -> result producer.

The tracer provider comes from the standard OTEL_* variables (``provider_from_env``): the lean one
of app/telemetry/tracer.py, exporting through app/telemetry/otlp.py. With no exporter configured
there is no provider at all: ``Tracing(None)`` uses the API's no-op tracer, which
still carries an incoming ``traceparent`` through to the result entry, so a disabled replica does
not break a trace that passes through it. The provider is always passed in explicitly (never the
global one), so tests can use an InMemorySpanExporter and a process can hold several.

Only spans this module opens exist: Redis calls are not instrumented, so idle XREADGROUP/XAUTOCLAIM
polls create no traces.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app import SERVICE_NAME as DEFAULT_SERVICE_NAME
from app import __version__
from app.codec import text
from app.telemetry.export import BatchConfig, BatchConfigError, EncodingBatchProcessor
from app.telemetry.otlp import OTLPSpanExporter
from app.telemetry.otlp_http import HttpConfig, HttpConfigError
from app.telemetry.tracer import LightTracer, LightTracerProvider

TRACER_NAME = "app.execution"
CARRIER_FIELDS = ("traceparent", "tracestate")
DEFAULT_OTLP_TRACES_ENDPOINT = "http://localhost:4318/v1/traces"
EXCHANGE_ENDPOINT = "exchange.endpoint"
EXCHANGE_OUTCOME = "exchange.outcome"
_EXPORTERS = ("otlp", "console")
_PROPAGATOR = TraceContextTextMapPropagator()
_SAMPLERS = {"always_on": lambda _: sampling.ALWAYS_ON, "always_off": lambda _: sampling.ALWAYS_OFF,
             "traceidratio": sampling.TraceIdRatioBased,
             "parentbased_always_on": lambda _: sampling.ParentBased(sampling.ALWAYS_ON),
             "parentbased_always_off": lambda _: sampling.ParentBased(sampling.ALWAYS_OFF),
             "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio}


class TracingConfigError(ValueError):
    """An OTEL_* variable asks for something this service cannot do; the message names it."""


class Tracing:
    """The spans the pipeline opens; every method is a cheap no-op span when ``provider`` is None.

    Two forms of each span: ``start_*`` returns a span that is not made current and that the caller
    ends (for batch code, where one stage serves many entries: pass ``parent=`` explicitly), and the
    context managers, which make the span current for the block and end it (recording an exception).
    """

    def __init__(self, provider: LightTracerProvider | None = None) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(TRACER_NAME, __version__) if provider else trace.NoOpTracer()

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    # -- spans held by the caller -----------------------------------------------------------------
    def start_process(self, fields: Mapping[Any, Any], *, stream: str, entry_id: str | bytes,
                      group: str) -> Span:
        """CONSUMER span ``process <stream>`` for one entry, child of and linked to its producer.

        ``fields`` are the entry's fields as read (str or bytes keys and values both work); the
        producer's context is read from ``traceparent``/``tracestate``.
        """
        parent = extract(fields)
        producer = trace.get_current_span(parent).get_span_context()
        links = [Link(producer)] if producer.is_valid else None
        attributes = {**_messaging(stream, "process"), "messaging.message.id": text(entry_id),
                      "messaging.consumer.group.name": group}
        return self._tracer.start_span(f"process {stream}", context=parent, kind=SpanKind.CONSUMER,
                                       attributes=attributes, links=links)

    def start_span(self, name: str, kind: SpanKind = SpanKind.INTERNAL,
                   attributes: Mapping[str, Any] | None = None, *, parent: Span | None = None,
                   start_time: int | None = None) -> Span:
        """A child of ``parent`` (default: the current span): ``risk evaluate``, ``state write``…
        ``start_time`` (ns since the epoch) for a span recorded after the fact."""
        if parent is not None and isinstance(self._tracer, LightTracer):
            return self._tracer.start_child(name, parent, kind, attributes, start_time)
        return self._tracer.start_span(name, context=_context(parent), kind=kind, attributes=attributes,
                                       start_time=start_time)

    def start_exchange(self, endpoint: str, attributes: Mapping[str, Any] | None = None, *,
                       parent: Span | None = None, start_time: int | None = None) -> Span:
        """CLIENT span ``exchange <endpoint>``; set ``EXCHANGE_OUTCOME`` on it once the call returns."""
        return self.start_span(f"exchange {endpoint}", SpanKind.CLIENT,
                               {EXCHANGE_ENDPOINT: endpoint, **(attributes or {})}, parent=parent,
                               start_time=start_time)

    def start_producer(self, stream: str, attributes: Mapping[str, Any] | None = None, *,
                       parent: Span | None = None) -> Span:
        """PRODUCER span ``send <stream>``; ``inject(span)`` gives the fields for the entry."""
        return self.start_span(f"send {stream}", SpanKind.PRODUCER,
                               {**_messaging(stream, "send"), **(attributes or {})}, parent=parent)

    @staticmethod
    def finish(span: Span, error: BaseException | None = None) -> None:
        """End a span started with ``start_*``, marking it failed when ``error`` is given."""
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    # -- spans current for a block ----------------------------------------------------------------
    @contextmanager
    def process_span(self, fields: Mapping[Any, Any], *, stream: str, entry_id: str | bytes,
                     group: str) -> Iterator[Span]:
        with trace.use_span(self.start_process(fields, stream=stream, entry_id=entry_id, group=group),
                            end_on_exit=True) as span:
            yield span

    @contextmanager
    def span(self, name: str, kind: SpanKind = SpanKind.INTERNAL,
             attributes: Mapping[str, Any] | None = None, *, parent: Span | None = None) -> Iterator[Span]:
        with trace.use_span(self.start_span(name, kind, attributes, parent=parent), end_on_exit=True) as span:
            yield span

    @contextmanager
    def exchange_span(self, endpoint: str, attributes: Mapping[str, Any] | None = None, *,
                      parent: Span | None = None) -> Iterator[Span]:
        with trace.use_span(self.start_exchange(endpoint, attributes, parent=parent), end_on_exit=True) as span:
            yield span

    @contextmanager
    def producer_span(self, stream: str, attributes: Mapping[str, Any] | None = None, *,
                      parent: Span | None = None) -> Iterator[Span]:
        """Call ``inject()`` inside the block for the fields of the entry being published."""
        with trace.use_span(self.start_producer(stream, attributes, parent=parent), end_on_exit=True) as span:
            yield span

    @staticmethod
    def current(span: Span) -> Any:
        """Make a held span current for a block (log lines then carry its ids); does not end it."""
        return trace.use_span(span, end_on_exit=False)

    @staticmethod
    def inject(span: Span | None = None) -> dict[str, str]:
        """``traceparent`` (and ``tracestate`` when there is one) of ``span`` or the current span."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=_context(span))
        return carrier

    def shutdown(self) -> None:
        """Flush queued spans to the exporter and stop it (call once, at process exit)."""
        if self.provider is not None:
            self.provider.shutdown()


def extract(fields: Mapping[Any, Any]) -> otel_context.Context:
    """The W3C context in an entry's fields; an empty context when there is none or it is malformed."""
    carrier: dict[str, str] = {}
    for name in CARRIER_FIELDS:
        value = fields.get(name, fields.get(name.encode()))
        if value is not None:
            carrier[name] = text(value)
    return _PROPAGATOR.extract(carrier, context=otel_context.Context())


def remote_parent(fields: Mapping[Any, Any]) -> Span:
    """The span whose W3C context ``fields`` carry, as a ``parent=`` for a span continuing that trace
    later (an order's fill); the invalid span, so a new trace, when there is none."""
    return trace.get_current_span(extract(fields))


def provider_from_env(env: Mapping[str, str] | None = None, *,
                      instance_id: str | None = None) -> LightTracerProvider | None:
    """A provider exporting as the OTEL_* variables say, or None when tracing is off.

    Off when OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or no exporter is configured
    (neither OTEL_TRACES_EXPORTER nor an OTLP endpoint). Supported exporters: otlp (HTTP/protobuf,
    OTEL_EXPORTER_OTLP_*: app/telemetry/otlp_http.py) and console; samplers: OTEL_TRACES_SAMPLER(_ARG)
    as the SDK names them; batching: OTEL_BSP_* (app/telemetry/export.py). The SDK reads
    OTEL_RESOURCE_ATTRIBUTES.
    """
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if "none" in names:
        return None
    endpoint = otlp_traces_endpoint(env)
    if not names:
        names = ["otlp"] if endpoint else []
    if not names:
        return None
    unknown = [n for n in names if n not in _EXPORTERS]
    if unknown:
        raise TracingConfigError(f"OTEL_TRACES_EXPORTER: unsupported exporter {unknown[0]!r}; "
                                 f"use {', '.join(_EXPORTERS)} or none")
    attributes = {SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME, SERVICE_VERSION: __version__}
    if instance_id:
        attributes[SERVICE_INSTANCE_ID] = instance_id
    provider = LightTracerProvider(Resource.create(attributes), sampler_from_env(env))
    for name in names:
        provider.add_span_processor(_processor(name, env, endpoint))
    return provider


def _processor(name: str, env: Mapping[str, str], endpoint: str | None) -> SpanProcessor:
    if name == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    try:
        config = BatchConfig.from_env(env)
    except BatchConfigError as exc:
        raise TracingConfigError(str(exc)) from None
    return EncodingBatchProcessor(_otlp_exporter(env, endpoint), config)


def sampler_from_env(env: Mapping[str, str]) -> sampling.Sampler:
    """OTEL_TRACES_SAMPLER (default parentbased_always_on) and its ratio in OTEL_TRACES_SAMPLER_ARG."""
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    if name not in _SAMPLERS:
        raise TracingConfigError(f"OTEL_TRACES_SAMPLER: unsupported sampler {name!r}; use {', '.join(_SAMPLERS)}")
    argument = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or "1.0"
    try:
        ratio = float(argument)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(argument)
    except ValueError:
        raise TracingConfigError(f"OTEL_TRACES_SAMPLER_ARG: {argument!r} is not a ratio from 0 to 1") from None
    return _SAMPLERS[name](ratio)


def tracing_from_env(env: Mapping[str, str] | None = None, *, instance_id: str | None = None) -> Tracing:
    return Tracing(provider_from_env(env, instance_id=instance_id))


def otlp_traces_endpoint(env: Mapping[str, str]) -> str | None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + ``/v1/traces``."""
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


def _otlp_exporter(env: Mapping[str, str], endpoint: str | None) -> OTLPSpanExporter:
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip()
    if protocol != "http/protobuf":
        raise TracingConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported; "
                                 "use http/protobuf (the collector's port 4318)")
    try:
        return OTLPSpanExporter(HttpConfig.from_env(env, endpoint or DEFAULT_OTLP_TRACES_ENDPOINT))
    except HttpConfigError as exc:
        raise TracingConfigError(str(exc)) from None


def instrument_app(app: Any, provider: trace.TracerProvider | None) -> None:
    """SERVER spans for API requests, except the probes and scrapes (/livez, /readyz, /metrics)."""
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider,
                                       excluded_urls=r"/livez$,/readyz$,/metrics/?$")


def _messaging(stream: str, operation: str) -> dict[str, str]:
    return {"messaging.system": "redis", "messaging.destination.name": stream,
            "messaging.operation.type": operation, "messaging.operation.name": operation}


def _context(span: Span | None) -> otel_context.Context | None:
    return None if span is None else trace.set_span_in_context(span)


