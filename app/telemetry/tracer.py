"""A lean OpenTelemetry tracer: the API's TracerProvider/Tracer/Span, an eighth of the SDK's cost.

The SDK makes every span thread-safe (a lock per span, bounded attribute maps, validation on every
``set_attribute``): ~35 µs a span here, and an intent has five. Spans here are plain objects for one
thread (the event loop's), with the SDK's semantics otherwise: its samplers, resources, span
processors and exporters, its attribute/event/link limits (128 each), the same ids, the same
``ReadableSpan`` read side (so the SDK's processors, in-memory and console exporters work as they
are). Anything written against the OpenTelemetry API (the FastAPI instrumentation) uses it unchanged.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

log = logging.getLogger(__name__)

LIMIT = 128  # the SDK's default count limit for attributes, events and links
_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_SCALARS = (str, bool, int, float, bytes)
_UNSET = Status(StatusCode.UNSET)


def _clean(value: Any) -> Any:
    """The value as the SDK keeps it, or None for a type an attribute cannot hold."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Sequence) and all(v is None or isinstance(v, _SCALARS) for v in value):
        return tuple(value)
    return None


class LightSpan(trace.Span):
    __slots__ = ("name", "kind", "context", "parent", "start_time", "end_time", "attributes", "events",
                 "links", "status", "dropped_attributes", "dropped_events", "dropped_links", "_tracer")

    def __init__(self, tracer: LightTracer, name: str, context: SpanContext, parent: SpanContext | None,
                 kind: SpanKind, attributes: Mapping[str, Any] | None, links: Sequence[Link] | None,
                 start_time: int | None) -> None:
        self._tracer = tracer
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.start_time = start_time or time.time_ns()
        self.end_time: int | None = None
        self.attributes: dict[str, Any] = {}
        self.events: list[Event] = []
        self.links: tuple[Link, ...] = tuple(links[:LIMIT]) if links else ()
        self.status = _UNSET
        self.dropped_attributes = self.dropped_events = 0
        self.dropped_links = len(links) - len(self.links) if links else 0
        if attributes:
            self.set_attributes(attributes)

    # -- the read side the SDK's processors and exporters use ---------------------------------------
    @property
    def resource(self) -> Resource:
        return self._tracer.provider.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._tracer.scope

    def to_json(self, indent: int | None = 4) -> str:
        return json.dumps({
            "name": self.name, "context": {"trace_id": f"0x{self.context.trace_id:032x}",
                                           "span_id": f"0x{self.context.span_id:016x}"},
            "kind": str(self.kind), "parent_id": f"0x{self.parent.span_id:016x}" if self.parent else None,
            "start_time": self.start_time, "end_time": self.end_time,
            "status": {"status_code": self.status.status_code.name, "description": self.status.description},
            "attributes": self.attributes, "events": [{"name": e.name, "timestamp": e.timestamp,
                                                        "attributes": dict(e.attributes or {})} for e in self.events],
            "links": [{"trace_id": f"0x{link.context.trace_id:032x}", "span_id": f"0x{link.context.span_id:016x}"}
                      for link in self.links],
            "resource": dict(self.resource.attributes),
        }, indent=indent, default=str)

    # -- the API -------------------------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        if self.end_time is not None:
            return
        if key not in self.attributes and len(self.attributes) >= LIMIT:
            self.dropped_attributes += 1
            return
        cleaned = value if type(value) is str else _clean(value)
        if cleaned is None or not key:
            log.debug("span attribute %r dropped: invalid value type %s", key, type(value).__name__)
            return
        self.attributes[key] = cleaned

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None,
                  timestamp: int | None = None) -> None:
        if self.end_time is not None:
            return
        if len(self.events) >= LIMIT:
            self.dropped_events += 1
            return
        self.events.append(Event(name, attributes, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        if self.end_time is not None or not context.is_valid:
            return
        if len(self.links) >= LIMIT:
            self.dropped_links += 1
            return
        self.links += (Link(context, attributes),)

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return  # OK is final, as in the SDK
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self.status = status

    def record_exception(self, exception: BaseException, attributes: Mapping[str, Any] | None = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        stacktrace = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        self.add_event("exception", {
            "exception.type": type(exception).__qualname__, "exception.message": str(exception),
            "exception.stacktrace": stacktrace, "exception.escaped": str(escaped), **(attributes or {})},
            timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time or time.time_ns()
        for processor in self._tracer.provider.processors:
            processor.on_end(self)  # type: ignore[arg-type]  # reads the ReadableSpan side only


class LightTracer(trace.Tracer):
    def __init__(self, provider: LightTracerProvider, scope: InstrumentationScope) -> None:
        self.provider = provider
        self.scope = scope

    def start_child(self, name: str, parent: trace.Span, kind: SpanKind = SpanKind.INTERNAL,
                    attributes: Mapping[str, Any] | None = None, start_time: int | None = None) -> trace.Span:
        """A child of a span of this process, without building a Context to carry the parent.

        It takes its parent's sampling decision, as the ParentBased samplers (the default, and every
        one OTEL_TRACES_SAMPLER names) decide for a local parent.
        """
        if not isinstance(parent, LightSpan):
            return self.start_span(name, trace.set_span_in_context(parent), kind, attributes, start_time=start_time)
        ctx = parent.context
        span_context = SpanContext(ctx.trace_id, _random_id(64), False, ctx.trace_flags, ctx.trace_state)
        span = LightSpan(self, name, span_context, ctx, kind, attributes, None, start_time)
        for processor in self.provider.processors:
            processor.on_start(span, None)  # type: ignore[arg-type]
        return span

    def start_span(self, name: str, context: otel_context.Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
                   links: Sequence[Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True, set_status_on_exception: bool = True) -> trace.Span:
        parent = trace.get_current_span(context).get_span_context()
        if not parent.is_valid:
            parent = None
        trace_id = parent.trace_id if parent is not None else _random_id(128)
        sampled = self.provider.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        trace_state = sampled.trace_state if sampled.trace_state is not None else \
            (parent.trace_state if parent is not None else TraceState())
        recording = sampled.decision is not Decision.DROP
        flags = _SAMPLED if sampled.decision is Decision.RECORD_AND_SAMPLE else _NOT_SAMPLED
        span_context = SpanContext(trace_id, _random_id(64), False, flags, trace_state)
        if not recording:
            return trace.NonRecordingSpan(span_context)
        if sampled.attributes:
            attributes = {**(attributes or {}), **sampled.attributes}
        span = LightSpan(self, name, span_context, parent, kind, attributes, links, start_time)
        for processor in self.provider.processors:
            processor.on_start(span, context)  # type: ignore[arg-type]
        return span

    @contextmanager
    def start_as_current_span(self, name: str, context: otel_context.Context | None = None,
                              kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
                              links: Sequence[Link] | None = None, start_time: int | None = None,
                              record_exception: bool = True, set_status_on_exception: bool = True,
                              end_on_exit: bool = True) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                            set_status_on_exception=set_status_on_exception) as current:
            yield current


class LightTracerProvider(trace.TracerProvider):
    """Resource, sampler and span processors as the SDK's provider holds them."""

    def __init__(self, resource: Resource | None = None, sampler: Sampler = ALWAYS_ON) -> None:
        self.resource = resource if resource is not None else Resource.create({})
        self.sampler = sampler
        self.processors: tuple[SpanProcessor, ...] = ()

    def add_span_processor(self, processor: SpanProcessor) -> None:
        self.processors += (processor,)

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes: Mapping[str, Any] | None = None) -> LightTracer:
        return LightTracer(self, InstrumentationScope(instrumenting_module_name, instrumenting_library_version,
                                                      schema_url, attributes))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


def _random_id(bits: int) -> int:
    """A random trace or span id, never the invalid 0 (as the SDK's RandomIdGenerator)."""
    while True:
        value = random.getrandbits(bits)
        if value:
            return value
