"""Spans encoded as they end and sent by the export thread to a real OTLP/HTTP receiver."""

from __future__ import annotations

import logging
import time

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import sampling

from app.telemetry.export import BatchConfig, BatchConfigError, EncodingBatchProcessor
from app.telemetry.otlp import OTLPSpanExporter
from app.telemetry.otlp_http import HttpConfig
from app.telemetry.tracer import LightTracerProvider
from tests.utils.otlp import OtlpReceiver


def pipeline(receiver: OtlpReceiver, sampler: sampling.Sampler = sampling.ALWAYS_ON,
             **config: float) -> tuple[LightTracerProvider, EncodingBatchProcessor]:
    provider = LightTracerProvider(Resource.create({"service.name": "export-test"}), sampler)
    processor = EncodingBatchProcessor(OTLPSpanExporter(HttpConfig(f"{receiver.endpoint}/v1/traces")),
                                       BatchConfig(**config))  # type: ignore[arg-type]
    provider.add_span_processor(processor)
    return provider, processor


def make(provider: LightTracerProvider, count: int, prefix: str = "s") -> None:
    tracer = provider.get_tracer("test")
    for i in range(count):
        tracer.start_span(f"{prefix}{i}", attributes={"i": i, "kind": "constant"}).end()


def test_a_full_batch_is_sent_without_waiting_for_the_schedule() -> None:
    with OtlpReceiver() as receiver:
        provider, processor = pipeline(receiver, schedule_delay_s=60, max_export_batch_size=100, max_queue_size=1000)
        with processor._sending:  # hold the sender until all are queued, so the batching shows
            make(provider, 250)
        spans = receiver.wait_for_spans(250, timeout_s=10)  # woken by a full batch, not the 60 s schedule
        assert receiver.batches == [100, 100, 50]
        assert [s.name for s in spans] == [f"s{i}" for i in range(250)]
        assert spans[7].attributes == {"i": 7, "kind": "constant"}
        assert spans[7].resource["service.name"] == "export-test"
        provider.shutdown()


def test_the_schedule_sends_a_partial_batch() -> None:
    with OtlpReceiver() as receiver:
        provider, _ = pipeline(receiver, schedule_delay_s=0.05)
        make(provider, 3)
        assert len(receiver.wait_for_spans(3, timeout_s=10)) == 3
        provider.shutdown()


def test_force_flush_sends_what_is_queued_now() -> None:
    with OtlpReceiver() as receiver:
        provider, _ = pipeline(receiver, schedule_delay_s=60)
        make(provider, 5)
        assert receiver.spans == []
        assert provider.force_flush()
        assert len(receiver.spans) == 5
        provider.shutdown()


def test_a_full_queue_drops_and_counts_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with OtlpReceiver() as receiver:
        provider, processor = pipeline(receiver, schedule_delay_s=0.05, max_export_batch_size=10, max_queue_size=10)
        with processor._sending:  # the sender is busy: nothing leaves the queue meanwhile
            make(provider, 25)
            assert processor.dropped == 15
        with caplog.at_level(logging.WARNING, "app.telemetry.export"):
            receiver.wait_for_spans(10, timeout_s=10)
            deadline = time.monotonic() + 5
            while "15 spans dropped" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.01)
        assert "15 spans dropped" in caplog.text
        provider.shutdown()
        assert len(receiver.spans) == 10


def test_unsampled_spans_are_not_queued() -> None:
    with OtlpReceiver() as receiver:
        provider, processor = pipeline(receiver, sampling.ALWAYS_OFF, schedule_delay_s=60)
        make(provider, 5)
        provider.shutdown()
        assert receiver.spans == [] and receiver.headers == []


def test_a_refused_export_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with OtlpReceiver() as receiver:
        provider, _ = pipeline(receiver, schedule_delay_s=60)
        receiver.reject_with = 400
        make(provider, 2, "lost")
        with caplog.at_level(logging.WARNING, "app.telemetry.export"):
            assert not provider.force_flush()
        assert "2 spans lost" in caplog.text
        receiver.reject_with = None
        make(provider, 2, "kept")
        provider.shutdown()
        assert [s.name for s in receiver.spans] == ["kept0", "kept1"]


def test_spans_ended_after_shutdown_are_ignored() -> None:
    with OtlpReceiver() as receiver:
        provider, _ = pipeline(receiver)
        provider.shutdown()
        make(provider, 3)
        assert provider.force_flush()  # nothing was queued: a queued span could not be sent any more
        assert receiver.spans == []


def test_batch_settings_come_from_the_sdk_variables() -> None:
    config = BatchConfig.from_env({"OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_MAX_QUEUE_SIZE": "100",
                                   "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50", "OTEL_BSP_EXPORT_TIMEOUT": "2000"})
    assert config == BatchConfig(schedule_delay_s=0.25, max_queue_size=100, max_export_batch_size=50,
                                 export_timeout_s=2.0)
    assert BatchConfig.from_env({}) == BatchConfig()


@pytest.mark.parametrize("env, variable", [
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "lots"}, "OTEL_BSP_MAX_QUEUE_SIZE"),
    ({"OTEL_BSP_SCHEDULE_DELAY": "0"}, "OTEL_BSP_SCHEDULE_DELAY"),
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
])
def test_bad_batch_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(BatchConfigError, match=f"^{variable}:"):
        BatchConfig.from_env(env)


def test_a_span_that_cannot_be_encoded_is_dropped_not_raised(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with OtlpReceiver() as receiver:
        provider, processor = pipeline(receiver, schedule_delay_s=60)
        monkeypatch.setattr("app.telemetry.otlp.encode_span", lambda span: 1 / 0)
        with caplog.at_level(logging.ERROR, "app.telemetry.export"):
            make(provider, 2, "broken")  # ending the span does not raise into the pipeline
        assert processor.dropped == 2 and "could not be encoded" in caplog.text
        monkeypatch.undo()
        make(provider, 1, "fine")
        provider.shutdown()
        assert [s.name for s in receiver.spans] == ["fine0"]
