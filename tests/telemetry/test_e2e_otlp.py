"""A real service process and the real `send` CLI export their spans in OTLP/HTTP to a receiver on
loopback, as they would to a collector: one trace from the CLI's producer span to the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import redis

from tests.utils.otlp import OtlpReceiver, ReceivedSpan
from tests.utils.service import ROOT, ServiceProcess
from tests.utils.streams import INTENTS, RESULTS

INTENT_STAGES = {"process trade.intent", "risk evaluate", "exchange order_create", "state write",
                 "send execution.result"}


def send_cli(redis_url: str, otel_endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OTEL_"))}
    env.update(REDIS_URL=redis_url, OTEL_EXPORTER_OTLP_ENDPOINT=otel_endpoint)
    done = subprocess.run([sys.executable, "-m", "app", "send", "--symbol", "BTCUSDT", "--side", "BUY",
                           "--quantity", "0.002", "--expect-status", "FILLED", "--timeout", "15"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def traceparent(client: redis.Redis, stream: str, entry_id: str) -> tuple[str, str]:
    """(trace id, span id) of an entry's traceparent field."""
    ((_, fields),) = client.xrange(stream, entry_id, entry_id)
    _version, trace_id, span_id, _flags = fields[b"traceparent"].decode().split("-")
    return trace_id, span_id


def test_the_cli_trace_continues_through_the_service_and_leaves_both_in_otlp(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with OtlpReceiver() as receiver:
        service = ServiceProcess(redis_url, name="otlp-replica",
                                 env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}).start()
        try:
            result = send_cli(redis_url, receiver.endpoint)
            assert service.get("/status").status_code == 200
            assert service.get("/metrics").status_code == 200
        finally:
            assert service.stop() == 0  # the drain flushes the queued spans
        spans = list(receiver.spans)
    entry_id = result["intent_entry_id"]
    trace_id, producer_id = traceparent(client, INTENTS, entry_id)
    ((result_id, _),) = client.xrange(RESULTS)
    result_trace_id, result_span_id = traceparent(client, RESULTS, result_id.decode())
    client.close()

    (producer,) = [s for s in spans if s.name == "send trade.intent"]
    assert (producer.trace_id, producer.span_id, producer.kind) == (trace_id, producer_id, "PRODUCER")
    assert producer.resource["service.name"] == "execution-cli"
    assert producer.attributes["messaging.message.id"] == entry_id

    in_trace = {s.name: s for s in spans if s.trace_id == trace_id and s.resource["service.name"] == "execution-service"}
    assert set(in_trace) == INTENT_STAGES
    process = in_trace["process trade.intent"]
    assert (process.kind, process.parent_span_id) == ("CONSUMER", producer_id)
    assert process.links == [(trace_id, producer_id)]
    assert process.attributes["messaging.message.id"] == entry_id
    assert process.attributes["messaging.consumer.group.name"] == "execution"
    assert process.resource["service.instance.id"] == "otlp-replica"
    assert all(s.parent_span_id == process.span_id for name, s in in_trace.items() if name != process.name)
    assert in_trace["exchange order_create"].kind == "CLIENT"
    assert in_trace["exchange order_create"].attributes["exchange.outcome"] == "ok"
    send = in_trace["send execution.result"]
    assert send.kind == "PRODUCER" and send.attributes["messaging.message.id"] == result_id.decode()
    assert (result_trace_id, result_span_id) == (trace_id, send.span_id)
    # Outside the intent's trace only the API request: no idle polls, no probe or scrape spans.
    assert roots_outside(spans, trace_id) == {("GET /status", "SERVER")}


def roots_outside(spans: list[ReceivedSpan], trace_id: str) -> set[tuple[str, str]]:
    return {(s.name, s.kind) for s in spans if s.trace_id != trace_id and not s.parent_span_id}
