"""Batching finished spans for OTLP: encoded as they end, sent by a background thread.

The SDK's BatchSpanProcessor hands its thread span objects to encode, a few thousand at a time: the
thread then holds the GIL for tens of milliseconds and the event loop (every intent in flight) waits
for it. Here each span is encoded when it ends, on the event loop, a few µs at a time, and the
thread only joins bytes and sends them (waiting on the network without the GIL). Same variables,
same meaning as the SDK's: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE,
OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_EXPORT_TIMEOUT (the last bounds a flush). The thread
leaves Python's GIL switch interval alone: a 0.5 ms one did not lower p99 (docs/performance.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult

from app.telemetry.otlp import OTLPSpanExporter, SpanBuffer

log = logging.getLogger(__name__)


class BatchConfigError(ValueError):
    """An OTEL_BSP_* variable is not a positive integer; the message names it."""


@dataclass(frozen=True)
class BatchConfig:
    schedule_delay_s: float = 5.0
    max_queue_size: int = 16384      # the SDK's 2048 drops spans (five an intent) at a few thousand intents/s
    max_export_batch_size: int = 2048
    export_timeout_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BatchConfig:
        def read(name: str, default: float) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return int(default)
            try:
                value = int(raw)
                if value <= 0:
                    raise ValueError(raw)
            except ValueError:
                raise BatchConfigError(f"{name}: {raw!r} is not a positive integer") from None
            return value

        default = cls()
        config = cls(schedule_delay_s=read("OTEL_BSP_SCHEDULE_DELAY", default.schedule_delay_s * 1000) / 1000,
                     max_queue_size=read("OTEL_BSP_MAX_QUEUE_SIZE", default.max_queue_size),
                     max_export_batch_size=read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", default.max_export_batch_size),
                     export_timeout_s=read("OTEL_BSP_EXPORT_TIMEOUT", default.export_timeout_s * 1000) / 1000)
        if config.max_export_batch_size > config.max_queue_size:
            raise BatchConfigError(f"OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {config.max_export_batch_size} is more than "
                                   f"OTEL_BSP_MAX_QUEUE_SIZE ({config.max_queue_size})")
        return config


class EncodingBatchProcessor(SpanProcessor):
    def __init__(self, exporter: OTLPSpanExporter, config: BatchConfig | None = None) -> None:
        self._exporter = exporter
        self._config = config or BatchConfig()
        self._buffer = SpanBuffer()            # filling; full ones wait in _full, one request each
        self._full: list[SpanBuffer] = []
        self._queued = 0
        self._lock = threading.Lock()          # the buffers: filled by the loop, taken by the sender
        self._sending = threading.Lock()       # one request at a time: the thread's or a flush's
        self._wake = threading.Event()
        self._stopped = False
        self.dropped = 0
        self._dropped_logged = 0
        self._thread = threading.Thread(target=self._run, name="otlp-span-export", daemon=True)
        self._thread.start()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: Any) -> None:
        if not span.context.trace_flags.sampled or self._stopped:
            return
        with self._lock:
            if self._queued >= self._config.max_queue_size:
                self.dropped += 1
                return
            try:
                self._buffer.add(span)
            except Exception:  # a span that cannot be encoded is lost, never the intent it traces
                log.exception("span %s not exported: it could not be encoded", getattr(span, "name", "?"))
                self.dropped += 1
                return
            self._queued += 1
            full = self._buffer.count >= self._config.max_export_batch_size
            if full:
                self._full.append(self._buffer)
                self._buffer = SpanBuffer()
        if full:
            self._wake.set()

    def _take(self) -> list[SpanBuffer]:
        with self._lock:
            taken = self._full + ([self._buffer] if self._buffer.count else [])
            self._full, self._buffer, self._queued = [], SpanBuffer(), 0
        return taken

    def _send(self, deadline: float | None = None) -> bool:
        """Send everything queued, one request per batch; False when any of it was lost."""
        ok = True
        with self._sending:
            for buffer in self._take():
                if deadline is not None and time.monotonic() > deadline:
                    log.warning("span flush timed out; %d spans not sent", buffer.count)
                    ok = False
                    continue
                try:
                    sent = self._exporter.send(buffer.request(), buffer.count) is SpanExportResult.SUCCESS
                except Exception:  # the transport's own failures come back as results; this is a bug
                    log.exception("span export error")
                    sent = False
                if not sent:
                    log.warning("span export failed; %d spans lost", buffer.count)
                    ok = False
        return ok

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._config.schedule_delay_s)
            self._wake.clear()
            self._send()
            if self.dropped != self._dropped_logged:
                log.warning("span queue full (OTEL_BSP_MAX_QUEUE_SIZE=%d): %d spans dropped so far",
                            self._config.max_queue_size, self.dropped)
                self._dropped_logged = self.dropped

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        timeout_s = min(timeout_millis / 1000, self._config.export_timeout_s)
        return self._send(time.monotonic() + timeout_s)

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._thread.join(self._config.export_timeout_s)
        self._send(time.monotonic() + self._config.export_timeout_s)
        self._exporter.shutdown()
