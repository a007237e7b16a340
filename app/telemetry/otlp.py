"""OTLP/HTTP export of finished spans, encoded straight to protobuf wire format.

The SDK's encoder builds a protobuf object per span, attribute and value (~26 µs a span here);
writing the bytes of ``ExportTraceServiceRequest`` directly costs a few µs, which is what lets a
replica trace every intent. The output decodes to exactly what the SDK's encoder produces (tests
compare the two); app/telemetry/otlp_http.py sends it, configured from the same OTEL_* variables
as the SDK's exporter.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from app.telemetry.otlp_http import HttpConfig, OtlpHttpSender

log = logging.getLogger(__name__)

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
# Span names and most attributes (``messaging.system=redis``, ``risk.verdict=OK``) repeat in every
# trace: their encodings are remembered, up to a bound, per key until it shows many distinct values
# (ids, which never repeat).
_CACHE_LIMIT, _VALUES_PER_KEY = 4096, 64
_pairs: dict[tuple[bytes, str], dict[str, bytes] | None] = {}
_names: dict[str, bytes] = {}


def varint(n: int) -> bytes:
    if n < 0:
        n &= 0xFFFFFFFFFFFFFFFF  # int64 as protobuf writes it: ten bytes, two's complement
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag byte(s), length, payload."""
    size = len(payload)
    return tag + (_ONE_BYTE[size] if size < 0x80 else varint(size)) + payload


def _value(value: Any) -> bytes:
    """An ``AnyValue`` message body."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, int):
        return b"\x18" + varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _value(v)) for v in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"invalid attribute value type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue`` message body."""
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _value(value))


def _attribute(tag: bytes, key: str, value: Any) -> bytes:
    """One attribute as the field ``tag`` of its message, from the cache when it repeats."""
    values = _pairs.get((tag, key), {})
    if values is None or type(value) is not str:  # a key of ids, or a value that is not hashable text
        return _field(tag, _key_value(key, value))
    encoded = values.get(value)
    if encoded is None:
        encoded = _field(tag, _key_value(key, value))
        if len(values) >= _VALUES_PER_KEY:
            _pairs[tag, key] = None
        elif len(_pairs) < _CACHE_LIMIT:
            values[value] = encoded
            _pairs[tag, key] = values
    return encoded


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> list[bytes]:
    out = []
    for key, value in (attributes or {}).items():
        try:
            out.append(_attribute(tag, key, value))
        except TypeError as exc:
            log.warning("span attribute %s not exported: %s", key, exc)
    return out


_LOCAL_FLAGS, _REMOTE_FLAGS = _FIXED32(_HAS_IS_REMOTE), _FIXED32(_HAS_IS_REMOTE | _IS_REMOTE)
_KINDS = {kind: b"\x30" + bytes((kind.value + 1,)) for kind in SpanKind}  # SpanKind + 1 is OTLP's
_UNSET_STATUS = b"\x7a\x00"


def _flags(parent: Any) -> bytes:
    return _REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS


def encode_span(span: Any) -> bytes:
    """One ``Span`` message body, from anything shaped like the SDK's ``ReadableSpan``."""
    ctx = span.context
    parts = [b"\x0a\x10", ctx.trace_id.to_bytes(16, "big"), b"\x12\x08", ctx.span_id.to_bytes(8, "big")]
    if ctx.trace_state:
        parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in ctx.trace_state.items()).encode()))
    parent = span.parent
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    name = _names.get(span.name)
    if name is None:
        name = _field(b"\x2a", span.name.encode())
        if len(_names) < _CACHE_LIMIT:
            _names[span.name] = name
    parts += (name, _KINDS[span.kind])
    if span.start_time:
        parts += (b"\x39", _FIXED64(span.start_time))
    if span.end_time:
        parts += (b"\x41", _FIXED64(span.end_time))
    parts += _attributes(b"\x4a", span.attributes)
    if span.dropped_attributes:
        parts += (b"\x50", varint(span.dropped_attributes))
    for event in span.events:
        body = [b"\x09", _FIXED64(event.timestamp), _field(b"\x12", event.name.encode()),
                *_attributes(b"\x1a", event.attributes)]
        if event.dropped_attributes:
            body += (b"\x20", varint(event.dropped_attributes))
        parts.append(_field(b"\x5a", b"".join(body)))
    if span.dropped_events:
        parts += (b"\x60", varint(span.dropped_events))
    for link in span.links:
        body = [b"\x0a\x10", link.context.trace_id.to_bytes(16, "big"),
                b"\x12\x08", link.context.span_id.to_bytes(8, "big"), *_attributes(b"\x22", link.attributes)]
        if link.dropped_attributes:
            body += (b"\x28", varint(link.dropped_attributes))
        body += (b"\x35", _flags(link.context))
        parts.append(_field(b"\x6a", b"".join(body)))
    if span.dropped_links:
        parts += (b"\x70", varint(span.dropped_links))
    status = span.status
    if status.status_code is StatusCode.UNSET and not status.description:
        parts.append(_UNSET_STATUS)
    else:
        body = _field(b"\x12", status.description.encode()) if status.description else b""
        if status.status_code.value:
            body += b"\x18" + varint(status.status_code.value)
        parts.append(_field(b"\x7a", body))
    parts += (b"\x85\x01", _flags(parent))
    return b"".join(parts)


class SpanBuffer:
    """Encoded spans grouped by resource, then scope, as ``ExportTraceServiceRequest`` nests them."""

    def __init__(self) -> None:
        self._groups: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
        self.count = 0

    def add(self, span: Any) -> None:
        resource, scope = span.resource, span.instrumentation_scope
        group = self._groups.get(id(resource))
        if group is None:
            group = self._groups[id(resource)] = (resource, {})
        spans = group[1].get(id(scope))
        if spans is None:
            spans = group[1][id(scope)] = (scope, [])
        spans[1].append(_field(b"\x12", encode_span(span)))
        self.count += 1

    def request(self) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` of every span added."""
        out = []
        for resource, scopes in self._groups.values():
            body = [_field(b"\x0a", b"".join(_attributes(b"\x0a", resource.attributes)))]
            for scope, encoded in scopes.values():
                body.append(_field(b"\x12", _scope(scope) + b"".join(encoded)))
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(body)))
        return b"".join(out)


def _scope(scope: Any) -> bytes:
    """The fields of a ``ScopeSpans`` that precede its spans: the scope (empty when there is none)
    and the schema URL, which the SDK writes last; a protobuf reader takes fields in any order."""
    if scope is None:
        return b"\x0a\x00"
    body = ((_field(b"\x0a", scope.name.encode()) if scope.name else b"")
            + (_field(b"\x12", scope.version.encode()) if scope.version else b"")
            + b"".join(_attributes(b"\x1a", scope.attributes)))
    return _field(b"\x0a", body) + (_field(b"\x1a", scope.schema_url.encode()) if scope.schema_url else b"")


def encode_spans(spans: Sequence[Any]) -> bytes:
    """A serialized ``ExportTraceServiceRequest`` of ``spans``."""
    buffer = SpanBuffer()
    for span in spans:
        buffer.add(span)
    return buffer.request()


class OTLPSpanExporter(SpanExporter):
    """Spans to an OTLP/HTTP collector: the encoder above, sent by app/telemetry/otlp_http.py."""

    def __init__(self, config: HttpConfig, session: requests.Session | None = None) -> None:
        self._sender = OtlpHttpSender(config, session)
        self._shutdown = False

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return self.send(encode_spans(spans), len(spans))

    def send(self, request: bytes, count: int) -> SpanExportResult:
        """POST one encoded request (retrying as the OTLP specification asks); ``count`` spans are in it."""
        if self._shutdown:
            log.warning("span exporter already shut down; %d spans dropped", count)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if self._sender.send(request) else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        if not self._shutdown:
            self._shutdown = True
            self._sender.close()
