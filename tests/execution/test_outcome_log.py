"""One INFO line per answered intent, up to OUTCOME_LOG_MAX_PER_S a second, then one summary line."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from app.execution.outcome_log import OutcomeLog
from app.models.result import Reason, Result, Status
from app.telemetry.logging import setup_logging
from tests.execution.conftest import Harness
from tests.utils.logs import log_stream  # noqa: F401 (fixture)
from tests.utils.streams import intent, publish, publish_raw

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def output(log_stream: io.StringIO) -> io.StringIO:
    """Our JSON lines at INFO for one test."""
    setup_logging("INFO", stream=log_stream)
    return log_stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def outcome_lines(stream: io.StringIO) -> list[dict]:
    return [line for line in lines(stream) if line["logger"] == "app.execution.outcomes"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(intent_id: str, status: Status = Status.FILLED, reason: Reason | None = None) -> Result:
    return Result.trusted(intent_id=intent_id, intent_entry_id="1-0", status=status, reason=reason, mode="PAPER",
                          symbol="BTCUSDT", received_at="", executed_at="", latency_ms=0.0)


def write(log: OutcomeLog, res: Result) -> None:
    if log.take(res.status):
        log.line(res, 0.0012)


def test_up_to_the_rate_each_outcome_has_its_line_then_one_summary_says_what_was_not_logged(output) -> None:
    clock = Clock()
    log = OutcomeLog(2, clock=clock)
    for i, (status, reason) in enumerate([(Status.FILLED, None), (Status.REJECTED, Reason.POSITION_LIMIT),
                                          (Status.FILLED, None), (Status.REJECTED, Reason.EXPOSURE_LIMIT),
                                          (Status.FILLED, None)]):
        write(log, result(f"i-{i}", status, reason))
    first, second = lines(output)
    assert first["message"] == "intent i-0 FILLED" and first["status"] == "FILLED" and first["reason"] is None
    assert second["message"] == "intent i-1 REJECTED POSITION_LIMIT" and second["reason"] == "POSITION_LIMIT"
    assert (second["intent_id"], second["symbol"], second["latency_ms"]) == ("i-1", "BTCUSDT", 1.2)
    clock.now += 1.0  # the next second: its first outcome is logged after the summary of the last
    write(log, result("i-5"))
    summary, fifth = lines(output)[2:]
    assert summary["message"] == ("3 intent outcomes not logged in the last second (OUTCOME_LOG_MAX_PER_S=2): "
                                  "2 FILLED, 1 REJECTED")
    assert summary["not_logged"] == {"FILLED": 2, "REJECTED": 1} and summary["level"] == "INFO"
    assert fifth["message"] == "intent i-5 FILLED"


def test_a_rate_of_zero_logs_only_the_summaries(output) -> None:
    log = OutcomeLog(0, clock=Clock())
    for i in range(3):
        write(log, result(f"i-{i}"))
    assert lines(output) == []
    log.flush()
    [summary] = lines(output)
    assert summary["not_logged"] == {"FILLED": 3}


def test_above_info_nothing_is_logged_or_counted(output) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    log = OutcomeLog(0, clock=Clock())
    write(log, result("i-1"))
    log.flush()
    assert lines(output) == []


async def test_the_summary_comes_when_its_second_ends_even_if_no_outcome_follows(output) -> None:
    log = OutcomeLog(1)
    for i in range(3):
        write(log, result(f"i-{i}"))
    assert len(lines(output)) == 1
    await asyncio.sleep(1.2)
    assert lines(output)[-1]["not_logged"] == {"FILLED": 2}


async def test_the_pipeline_logs_each_outcome_with_its_trace_id(harness: Harness, output) -> None:
    filled, rejected = intent("BTCUSDT", "BUY", quantity=0.002), intent("BTCUSDT", "BUY", leverage=50)
    traced = publish_raw(harness.sync, {"data": json.dumps(filled),
                                        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
    publish(harness.sync, rejected)
    publish(harness.sync, filled)  # the same intent id again: a duplicate
    bad = publish_raw(harness.sync, {"data": "{not json"})
    await harness.consumer().burst()
    by_message = {line["message"]: line for line in outcome_lines(output)}
    assert set(by_message) == {f"intent {filled['intent_id']} FILLED",
                               f"intent {rejected['intent_id']} REJECTED LEVERAGE_LIMIT",
                               f"intent {filled['intent_id']} FILLED (duplicate)",
                               f"intent entry:{bad} REJECTED INVALID_INTENT"}
    fill = by_message[f"intent {filled['intent_id']} FILLED"]
    assert (fill["level"], fill["entry_id"], fill["symbol"], fill["status"]) == ("INFO", traced, "BTCUSDT", "FILLED")
    assert fill["trace_id"] == TRACE_ID and fill["latency_ms"] > 0 and fill["duplicate"] is False
    denied = by_message[f"intent {rejected['intent_id']} REJECTED LEVERAGE_LIMIT"]
    assert denied["reason"] == "LEVERAGE_LIMIT" and "trace_id" not in denied
    assert by_message[f"intent {filled['intent_id']} FILLED (duplicate)"]["duplicate"] is True
