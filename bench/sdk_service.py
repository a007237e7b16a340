"""`python -m bench.sdk_service serve`: the service traced by the stock OpenTelemetry SDK.

The bench's ``service+sdk`` variants: the same ``python -m app serve`` path, with the service's
provider factory replaced in this process only by the SDK's ``TracerProvider``, a tuned
``BatchSpanProcessor`` and the protobuf OTLP/HTTP exporter, so the two stacks are compared on the
same pipeline, spans and sink. Resource, sampler and endpoint come from the same OTEL_* variables.

Tuning (the SDK's defaults in brackets), for 5 spans an intent at up to a few thousand intents/s:
a queue of 16,384 spans [2,048, a fraction of a second of a backlog], batches of 512 [512; tried
against 128, 256 and 2,048 in docs/performance.md: 128 dropped a sixth of the spans, 2,048 doubled
p99], a schedule delay of 1 s [5 s; under load a batch fills sooner]. OTEL_BSP_* override them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app import SERVICE_NAME as DEFAULT_SERVICE_NAME
from app import __version__
from app.telemetry import tracing

MAX_QUEUE_SIZE = 16384
MAX_EXPORT_BATCH_SIZE = 512
SCHEDULE_DELAY_MS = 1000


def sdk_provider_from_env(env: Mapping[str, str] | None = None, *,
                          instance_id: str | None = None) -> TracerProvider | None:
    """The SDK's provider where the service's would be; None when tracing is off (no endpoint)."""
    env = os.environ if env is None else env
    endpoint = tracing.otlp_traces_endpoint(env)
    if endpoint is None:
        return None
    attributes = {SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME, SERVICE_VERSION: __version__}
    if instance_id:
        attributes[SERVICE_INSTANCE_ID] = instance_id
    provider = TracerProvider(sampler=tracing.sampler_from_env(env), resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint),
        max_queue_size=_setting(env, "OTEL_BSP_MAX_QUEUE_SIZE", MAX_QUEUE_SIZE),
        max_export_batch_size=_setting(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", MAX_EXPORT_BATCH_SIZE),
        schedule_delay_millis=_setting(env, "OTEL_BSP_SCHEDULE_DELAY", SCHEDULE_DELAY_MS)))
    return provider


def _setting(env: Mapping[str, str], name: str, default: int) -> int:
    return int(env.get(name, "").strip() or default)


if __name__ == "__main__":
    tracing.provider_from_env = sdk_provider_from_env  # type: ignore[assignment]
    from app.__main__ import main

    sys.exit(main())
