"""Encoded OTLP requests sent over HTTP: settings from OTEL_EXPORTER_OTLP_*, retries, compression."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.resources import Resource

from app.telemetry.otlp import OTLPSpanExporter, encode_spans
from app.telemetry.otlp_http import HttpConfig, HttpConfigError, OtlpHttpSender
from app.telemetry.tracer import LightTracerProvider
from tests.utils.otlp import OtlpReceiver


def request_of(*names: str) -> bytes:
    provider = LightTracerProvider(Resource.create({"service.name": "http-test"}))
    tracer = provider.get_tracer("test")
    spans = [tracer.start_span(name) for name in names]
    for span in spans:
        span.end()
    return encode_spans(spans)


class Scripted:
    """A collector answering its requests with ``replies`` in turn (200 once they are used up)."""

    def __init__(self, *replies: tuple[int, dict[str, str]]) -> None:
        self.times: list[float] = []  # when each request arrived
        queue, times = list(replies), self.times

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                times.append(time.monotonic())
                status, headers = queue.pop(0) if queue else (200, {})
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.config = HttpConfig(f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces")

    def __enter__(self) -> Scripted:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_settings_come_from_the_traces_variables_first() -> None:
    config = HttpConfig.from_env({"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2",
                                  "OTEL_EXPORTER_OTLP_TIMEOUT": "3", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "GZIP",
                                  "OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem",
                                  "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/c.pem",
                                  "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"}, "http://c:4318/v1/traces")
    assert config == HttpConfig("http://c:4318/v1/traces", {"b": "2"}, 3.0, "gzip", "/ca.pem", "/c.pem", "/k.pem")
    assert HttpConfig.from_env({}, "http://c/v1/traces") == HttpConfig("http://c/v1/traces")


@pytest.mark.parametrize("variable, value", [
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
])
def test_bad_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(HttpConfigError, match=f"^{variable.replace('TRACES_', '')}:"):
        HttpConfig.from_env({variable: value}, "http://c/v1/traces")


def test_gzip_requests_carry_their_encoding_and_the_configured_headers() -> None:
    with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(HttpConfig(f"{receiver.endpoint}/v1/traces", {"x-tenant": "desk1"},
                                               compression="gzip"))
        assert exporter.send(request_of("a", "b"), 2).name == "SUCCESS"
        exporter.shutdown()
        assert [s.name for s in receiver.spans] == ["a", "b"]
    assert receiver.headers[0]["content-encoding"] == "gzip" and receiver.headers[0]["x-tenant"] == "desk1"


def test_unavailable_is_retried_after_what_the_collector_asks() -> None:
    with Scripted((503, {"Retry-After": "0"}), (429, {"Retry-After": "0.2"})) as collector:
        sender = OtlpHttpSender(collector.config)
        assert sender.send(request_of("a"))
        sender.close()
    assert len(collector.times) == 3 and collector.times[2] - collector.times[1] >= 0.2


def test_a_refusal_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    with Scripted((400, {})) as collector:
        sender = OtlpHttpSender(collector.config)
        assert not sender.send(request_of("a"))
        sender.close()
    assert len(collector.times) == 1 and "HTTP 400" in caplog.text


def test_an_unreachable_collector_costs_at_most_the_timeout() -> None:
    with Scripted() as collector:
        endpoint = collector.config.endpoint
    sender = OtlpHttpSender(HttpConfig(endpoint, timeout_s=0.5))  # nothing listens there now
    start = time.monotonic()
    assert not sender.send(request_of("a"))
    assert time.monotonic() - start < 1.5
    sender.close()


def test_closing_ends_a_wait_between_retries() -> None:
    with Scripted((503, {"Retry-After": "5"})) as collector:
        sender = OtlpHttpSender(collector.config)
        threading.Timer(0.2, sender.close).start()
        start = time.monotonic()
        assert not sender.send(request_of("a"))
        assert time.monotonic() - start < 2
