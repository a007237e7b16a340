"""JSON-lines logging: fields, trace ids of the current span, and no secret ever printed."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pydantic import SecretStr

from app.config import load_settings
from app.telemetry.logging import REDACTED, settings_secrets, setup_logging
from app.telemetry.tracer import LightTracerProvider
from app.telemetry.tracing import Tracing
from tests.utils.logs import log_stream  # noqa: F401 (fixture)

API_SECRET = 's3cr3t-"Binance"\\ApiSecret-0123456789'
REDIS_PASSWORD = "p@ss/word:42"


@pytest.fixture
def output(log_stream: io.StringIO) -> io.StringIO:
    """Each test installs our logging on it with its own secrets."""
    return log_stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def strings(value: object) -> list[str]:
    """Every string inside decoded JSON, so escaping cannot hide a secret from the check."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_each_record_is_one_json_object_with_extras(output: io.StringIO) -> None:
    setup_logging("INFO", stream=output)
    log = logging.getLogger("app.execution")
    log.info("intent %s executed", "i-1", extra={"intent_id": "i-1", "latency_s": 0.012, "tags": {"a"}})
    log.debug("not shown at INFO")
    (line,) = lines(output)
    assert line["level"] == "INFO"
    assert line["logger"] == "app.execution"
    assert line["message"] == "intent i-1 executed"
    assert line["intent_id"] == "i-1" and line["latency_s"] == 0.012 and line["tags"] == ["a"]
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert "trace_id" not in line


def test_current_span_ids_are_on_the_line(output: io.StringIO) -> None:
    setup_logging("DEBUG", stream=output)
    tracing = Tracing(LightTracerProvider())
    with tracing.span("risk evaluate") as span:
        logging.getLogger("app.risk").debug("checked")
    (line,) = lines(output)
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


def test_exceptions_are_one_line_with_the_traceback(output: io.StringIO) -> None:
    setup_logging("INFO", stream=output)
    try:
        raise ValueError("bad price")
    except ValueError:
        logging.getLogger("app").exception("order failed")
    (line,) = lines(output)
    assert "ValueError: bad price" in line["exception"]
    assert len(output.getvalue().splitlines()) == 1


def test_secret_values_never_show(output: io.StringIO) -> None:
    settings = load_settings({}, execution_mode="TESTNET", binance_api_key="key-ABCDEFGH",
                             binance_api_secret=API_SECRET, admin_token="admin-token-xyz",
                             redis_url="redis://:p%40ss%2Fword%3A42@127.0.0.1:6399/0")
    setup_logging("INFO", secrets=settings_secrets(settings), stream=output)
    log = logging.getLogger("app.exchange")
    log.info("signing with %s", API_SECRET, extra={"secret_obj": settings.binance_api_secret,
                                                    "key": "key-ABCDEFGH", "headers": {"auth": "admin-token-xyz"}})
    log.warning("connecting to %s", settings.redis_dsn)
    try:
        raise ConnectionError(f"redis at {settings.redis_dsn} refused, password {REDIS_PASSWORD}")
    except ConnectionError:
        log.exception("redis down")

    text = output.getvalue()
    decoded = "\n".join(strings(lines(output)))
    for secret in (API_SECRET, "key-ABCDEFGH", "admin-token-xyz", REDIS_PASSWORD, "p%40ss%2Fword%3A42"):
        assert secret not in text and secret not in decoded, secret
    first, second, third = lines(output)
    assert first["message"] == f"signing with {REDACTED}"
    assert first["secret_obj"] == "**********"
    assert REDACTED in second["message"] and "127.0.0.1:6399" in second["message"]
    assert REDACTED in third["exception"]


def test_secret_str_renders_masked_without_being_registered(output: io.StringIO) -> None:
    setup_logging("INFO", stream=output)
    logging.getLogger("app").info("settings", extra={"api_secret": SecretStr(API_SECRET)})
    assert API_SECRET not in output.getvalue()
    assert lines(output)[0]["api_secret"] == "**********"


def test_setup_twice_does_not_duplicate_and_routes_uvicorn(output: io.StringIO) -> None:
    setup_logging("INFO", stream=io.StringIO())
    setup_logging("INFO", stream=output)
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    setup_logging("INFO", stream=output)
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("app").info("hello")
    assert [line["message"] for line in lines(output)] == ["Started server process", "hello"]
    assert lines(output)[0]["logger"] == "uvicorn.error"


def test_uvicorns_ansi_colored_copy_of_the_message_is_dropped(output: io.StringIO) -> None:
    """uvicorn passes ``extra={"color_message": …}`` with ANSI escapes, for its own console formatter."""
    setup_logging("INFO", stream=output)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42,
                                            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    (line,) = lines(output)
    assert line["message"] == "Started server process [42]" and "color_message" not in line
    assert "\x1b" not in output.getvalue() and "\\u001b" not in output.getvalue()
