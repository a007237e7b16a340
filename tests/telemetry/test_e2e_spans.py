"""The span trees the real pipeline records (PAPER venue, real Redis), on an explicit in-memory provider.

Intents are published by the `send` CLI's own ``publish`` (its PRODUCER span), read by the real
consumer and answered by the real processor; the result entries are read back from Redis.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.bus.consumer import StreamConsumer
from app.cli.send import publish as cli_publish
from app.execution.service import IntentProcessor
from app.telemetry.logging import JsonFormatter
from app.telemetry.tracer import LightSpan
from app.telemetry.tracing import EXCHANGE_ENDPOINT, EXCHANGE_OUTCOME, Tracing, extract
from tests.execution.conftest import Harness, build
from tests.execution.test_recovery import Wrapped
from tests.telemetry.test_tracing_spans import exporter, tracing  # noqa: F401 (fixtures: an explicit provider)
from tests.utils.streams import intent, publish, publish_raw

STAGES = ["risk evaluate", "exchange order_create", "state write", "send execution.result"]
MESSAGING = {"messaging.system": "redis", "messaging.destination.name": "trade.intent",
             "messaging.operation.type": "process", "messaging.consumer.group.name": "execution"}


@pytest.fixture
def sync(redis_url: str) -> Iterator[sync_redis.Redis]:
    client = sync_redis.Redis.from_url(redis_url)
    yield client
    client.close()


@dataclass
class Traced:
    """The pipeline of tests/execution, its processor built with our tracing."""

    h: Harness
    tracing: Tracing

    def consumer(self, name: str = "c1", **overrides: Any) -> StreamConsumer:
        settings = self.h.settings.model_copy(update={"consumer_name": name, **overrides})
        processor = IntentProcessor(settings, self.h.redis, self.h.keys, self.h.scripts, self.h.exchange,
                                    self.h.metrics, self.tracing)
        return StreamConsumer(settings, self.h.redis, self.h.redis, self.h.keys, processor.process, self.h.metrics)

    async def send(self, body: dict[str, Any]) -> str:
        return await cli_publish(self.h.redis, self.h.settings, body, self.tracing)

    def result_entries(self) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        """intent entry id -> (result, the entry's other fields)."""
        out = {}
        for _id, fields in self.h.sync.xrange(self.h.keys.result_stream):
            text = {k.decode(): v.decode() for k, v in fields.items()}
            result = json.loads(text.pop("data"))
            out[result["intent_entry_id"]] = (result, text)
        return out


@pytest.fixture
async def traced(redis_url: str, aredis: aioredis.Redis, sync: sync_redis.Redis, tracing: Tracing) -> Traced:
    return Traced(build(redis_url, aredis, sync), tracing)


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> dict[str, ReadableSpan]:
    found = [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]
    assert len({s.name for s in found}) == len(found), [s.name for s in found]
    return {s.name: s for s in found}


def process_span(spans: tuple[ReadableSpan, ...], entry_id: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == "process trade.intent"
               and s.attributes["messaging.message.id"] == entry_id]
    return span


def ids(carrier: dict[str, str]) -> tuple[int, int]:
    context = trace.get_current_span(extract(carrier)).get_span_context()
    assert context.is_valid, carrier
    return context.trace_id, context.span_id


async def test_one_intent_is_one_trace_from_the_cli_producer_to_the_result(
        traced: Traced, exporter: InMemorySpanExporter) -> None:
    entry_id = await traced.send(intent("BTCUSDT", "BUY", quantity=0.002))
    await traced.consumer().burst()

    spans = exporter.get_finished_spans()
    (producer,) = [s for s in spans if s.name == "send trade.intent"]
    process = process_span(spans, entry_id)
    assert len(spans) == 6 and {s.context.trace_id for s in spans} == {producer.context.trace_id}

    assert producer.kind is SpanKind.PRODUCER and producer.parent is None
    assert producer.attributes["messaging.destination.name"] == "trade.intent"
    assert producer.attributes["messaging.message.id"] == entry_id
    assert process.kind is SpanKind.CONSUMER
    assert process.parent.span_id == producer.context.span_id and process.parent.is_remote
    assert [link.context.span_id for link in process.links] == [producer.context.span_id]
    assert {k: process.attributes[k] for k in MESSAGING} == MESSAGING
    assert process.attributes["execution.status"] == "FILLED"

    stages = children(spans, process)
    assert sorted(stages) == sorted(STAGES)
    assert stages["risk evaluate"].kind is SpanKind.INTERNAL
    assert stages["risk evaluate"].attributes["risk.verdict"] == "OK"
    exchange = stages["exchange order_create"]
    assert exchange.kind is SpanKind.CLIENT
    assert (exchange.attributes[EXCHANGE_ENDPOINT], exchange.attributes[EXCHANGE_OUTCOME]) == ("order_create", "ok")
    assert exchange.attributes["exchange.order_status"] == "FILLED"
    assert stages["state write"].kind is SpanKind.INTERNAL
    send = stages["send execution.result"]
    assert send.kind is SpanKind.PRODUCER
    assert send.attributes["messaging.destination.name"] == "execution.result"
    # PAPER admits, books and settles an order that fills in one script call: the exchange span is
    # that call, and the risk, state write and result spans, opened before it, all end after it.
    risk, write = stages["risk evaluate"], stages["state write"]
    assert risk.start_time <= write.start_time <= send.start_time <= exchange.start_time
    assert all(exchange.start_time < span.end_time for span in (risk, write, send))
    assert process.start_time <= risk.start_time and send.end_time <= process.end_time

    # The result entry carries the context of the result's PRODUCER span: a downstream consumer
    # continues this same trace.
    ((result, fields),) = traced.result_entries().values()
    assert result["status"] == "FILLED" and result["intent_entry_id"] == entry_id
    assert ids(fields) == (producer.context.trace_id, send.context.span_id)
    assert send.attributes["messaging.message.id"] == traced.h.sync.xrange(traced.h.keys.result_stream)[0][0].decode()


async def test_a_batch_gives_each_intent_its_own_tree(traced: Traced, exporter: InMemorySpanExporter) -> None:
    filled = await traced.send(intent("BTCUSDT", "BUY", quantity=0.002, intent_id="same"))
    await traced.consumer().burst()
    duplicate = await traced.send(intent("BTCUSDT", "BUY", quantity=0.002, intent_id="same"))
    denied = await traced.send(intent("LINKUSDT", "BUY", quantity=1))
    invalid = await traced.send({"symbol": "BTCUSDT", "side": "HOLD", "quantity": 1})
    [untraced] = publish(traced.h.sync, intent("ETHUSDT", "SELL", quantity=0.01))
    await traced.consumer().burst()  # one read, one batch of four

    spans = exporter.get_finished_spans()
    producers = {s.attributes["messaging.message.id"]: s for s in spans if s.name == "send trade.intent"}
    entries = traced.result_entries()
    expected = {filled: (STAGES, "FILLED"),
                duplicate: (["risk evaluate", "state write", "send execution.result"], "FILLED"),
                denied: (["risk evaluate", "state write", "send execution.result"], "REJECTED"),
                invalid: (["state write", "send execution.result"], "REJECTED"),
                untraced: (STAGES, "FILLED")}
    assert set(entries) == set(expected)
    for entry_id, (stage_names, status) in expected.items():
        process = process_span(spans, entry_id)
        stages = children(spans, process)
        assert sorted(stages) == sorted(stage_names), entry_id
        assert {s.context.trace_id for s in stages.values()} == {process.context.trace_id}
        assert process.attributes["execution.status"] == status
        result, fields = entries[entry_id]
        assert result["status"] == status
        assert ids(fields) == (process.context.trace_id, stages["send execution.result"].context.span_id)
        producer = producers.get(entry_id)
        if producer is None:  # published without a traceparent: the service starts the trace
            assert process.parent is None and list(process.links) == []
        else:
            assert process.parent.span_id == producer.context.span_id
            assert process.context.trace_id == producer.context.trace_id
    assert len({process_span(spans, e).context.trace_id for e in expected}) == len(expected)
    assert process_span(spans, duplicate).attributes.get("execution.reason") is None
    assert children(spans, process_span(spans, duplicate))["risk evaluate"].attributes["risk.verdict"] == "DUP"
    risk = children(spans, process_span(spans, denied))["risk evaluate"]
    assert (risk.attributes["risk.verdict"], risk.attributes["risk.reason"]) == ("DENY", "SYMBOL_NOT_ALLOWED")
    assert process_span(spans, denied).attributes["execution.reason"] == "SYMBOL_NOT_ALLOWED"


def commands(client: sync_redis.Redis, name: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0))


async def test_idle_polling_creates_no_spans(traced: Traced, exporter: InMemorySpanExporter) -> None:
    consumer = traced.consumer(read_block_ms=20, claim_interval_s=0.05)
    await consumer.burst()
    reads, claims = commands(traced.h.sync, "xreadgroup"), commands(traced.h.sync, "xautoclaim")
    loop = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.5)
    consumer.stop()
    await asyncio.wait_for(loop, 5)

    assert commands(traced.h.sync, "xreadgroup") > reads + 5 and commands(traced.h.sync, "xautoclaim") > claims + 2
    assert exporter.get_finished_spans() == ()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """JSON lines of the pipeline's logger, as the service writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app.execution")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_logs_of_an_intent_carry_its_trace_and_a_resumed_intent_continues_it(
        redis_url: str, aredis: aioredis.Redis, sync: sync_redis.Redis, tracing: Tracing,
        exporter: InMemorySpanExporter, log_lines: io.StringIO) -> None:
    traced = Traced(build(redis_url, aredis, sync, exchange_wrapper=Wrapped), tracing)
    venue: Wrapped = traced.h.exchange  # type: ignore[assignment]
    entry_id = await traced.send(intent())
    venue.unknown_after_send = True
    await traced.consumer().burst()
    venue.unknown_after_send = False
    await traced.consumer().burst()  # its own pending entry: looked up at the venue, not resent

    spans = exporter.get_finished_spans()
    first, second = sorted((s for s in spans if s.name == "process trade.intent"), key=lambda s: s.start_time)
    assert first.context.trace_id == second.context.trace_id  # both continue the producer's trace
    assert first.attributes["execution.status"] == "PENDING" and second.attributes["execution.status"] == "FILLED"
    unknown = children(spans, first)["exchange order_create"]
    assert unknown.attributes[EXCHANGE_OUTCOME] == "unknown_outcome"
    assert unknown.status.status_code is StatusCode.ERROR
    resumed = children(spans, second)
    assert sorted(resumed) == ["exchange order_query", "risk evaluate", "send execution.result", "state write"]
    assert resumed["risk evaluate"].attributes["risk.verdict"] == "RESUME"
    assert resumed["exchange order_query"].attributes[EXCHANGE_OUTCOME] == "ok"

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    (warned,) = [line for line in lines if "outcome unknown" in line["message"]]
    (resolved,) = [line for line in lines if "resolved from the venue" in line["message"]]
    assert (warned["trace_id"], warned["span_id"]) == (format(first.context.trace_id, "032x"),
                                                      format(first.context.span_id, "016x"))
    assert (resolved["trace_id"], resolved["span_id"]) == (format(second.context.trace_id, "032x"),
                                                          format(second.context.span_id, "016x"))
    assert venue.sent == 1 and traced.result_entries()[entry_id][0]["status"] == "FILLED"


@pytest.fixture
def spans_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every span object constructed while the test runs."""
    made = [0]
    init = LightSpan.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made[0] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(LightSpan, "__init__", counting)
    return made


async def test_tracing_off_makes_no_spans_and_passes_the_producer_context_on(
        traced: Traced, tracing: Tracing, spans_made: list[int]) -> None:
    producer_ids = {}
    for i in range(20):
        with tracing.producer_span("trade.intent"):
            carrier = tracing.inject()
        entry_id = publish_raw(traced.h.sync, {"data": json.dumps(intent(side="BUY" if i % 2 else "SELL")),
                                               **carrier})
        producer_ids[entry_id] = carrier
    invalid_carrier = dict(carrier)
    invalid = publish_raw(traced.h.sync, {"data": "{oops", **invalid_carrier})
    [bare] = publish(traced.h.sync, intent())
    made_by_producers = spans_made[0]
    assert made_by_producers == 20

    await traced.h.consumer().burst()  # the tests/execution processor: no tracing given, tracing off
    assert spans_made[0] == made_by_producers

    entries = traced.result_entries()
    for entry_id, carrier in {**producer_ids, invalid: invalid_carrier}.items():
        assert entries[entry_id][1] == carrier, entry_id  # the producer's context, unchanged
    assert entries[bare][1] == {}

    # The same backlog shape with tracing on: spans are made (the counter works).
    publish(traced.h.sync, intent())
    await traced.consumer().burst()
    assert spans_made[0] == made_by_producers + 5


async def test_with_tracing_off_log_lines_carry_the_producer_ids(
        redis_url: str, aredis: aioredis.Redis, sync: sync_redis.Redis, tracing: Tracing,
        log_lines: io.StringIO) -> None:
    h = build(redis_url, aredis, sync, exchange_wrapper=Wrapped)
    h.exchange.unknown_after_send = True  # type: ignore[attr-defined]
    with tracing.producer_span("trade.intent"):
        carrier = tracing.inject()
    publish_raw(h.sync, {"data": json.dumps(intent()), **carrier})
    await h.consumer().burst()  # no tracing given: off

    (warned,) = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert "outcome unknown" in warned["message"]
    _version, trace_id, span_id, _flags = carrier["traceparent"].split("-")
    assert (warned["trace_id"], warned["span_id"]) == (trace_id, span_id)


async def test_a_booking_refused_by_the_venue_is_settled_under_the_spans_opened_for_it(
        redis_url: str, aredis: aioredis.Redis, sync: sync_redis.Redis, tracing: Tracing,
        exporter: InMemorySpanExporter) -> None:
    """PAPER prepares the FILLED settlement before the admission call; when the venue refuses the
    order instead, the rejection is settled afterwards under the same state write and result spans."""
    traced = Traced(build(redis_url, aredis, sync, paper_balance_usd=10.0), tracing)
    entry_id = await traced.send(intent("BTCUSDT", "BUY", quantity=0.002, leverage=1))
    await traced.consumer().burst()

    spans = exporter.get_finished_spans()
    process = process_span(spans, entry_id)
    stages = children(spans, process)  # one span per stage: none opened twice
    assert sorted(stages) == sorted(STAGES)
    assert stages["exchange order_create"].attributes[EXCHANGE_OUTCOME] == "balance"
    assert process.attributes["execution.status"] == "REJECTED"
    result, fields = traced.result_entries()[entry_id]
    assert result["reason"] == "INSUFFICIENT_BALANCE"
    assert ids(fields) == (process.context.trace_id, stages["send execution.result"].context.span_id)
    assert stages["send execution.result"].attributes["messaging.message.id"]
