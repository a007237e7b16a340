"""The CLI as a user runs it: send, results, check, and serve refusing bad settings."""

from __future__ import annotations

import json

import pytest

from app.redis_server import free_port
from tests.utils.cli import cli


@pytest.fixture
def running(services):
    return services("cli")


def test_send_prints_a_filled_result_and_exits_0(running, redis_url) -> None:
    done = cli("send", "--symbol", "BTCUSDT", "--side", "buy", "--quantity", "0.002", "--expect-status", "FILLED",
               env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FILLED" and result["executed_quantity"] == 0.002 and result["source"] == "cli"


def test_send_prints_a_rejection_with_its_reason(running, redis_url) -> None:
    done = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--notional-usd", "5000", env={"REDIS_URL": redis_url})
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert (result["status"], result["reason"]) == ("REJECTED", "POSITION_LIMIT")
    assert "above the 1000.00 USD limit" in result["message"]
    mismatch = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "0.0001", "--expect-status", "FILLED",
                   env={"REDIS_URL": redis_url})
    assert mismatch.returncode == 1 and "EXCHANGE_FILTER" in mismatch.stdout
    assert "expected status FILLED, got REJECTED" in mismatch.stderr


def test_send_times_out_with_exit_3_when_nobody_listens(redis_url) -> None:
    done = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "1", "--timeout", "0.5",
               env={"REDIS_URL": redis_url})
    assert done.returncode == 3 and "no result" in done.stderr


def test_send_never_trims_intents_nobody_has_answered(redis_url, sync) -> None:
    """The service trims only answered entries (app/bus/maintenance.py); a producer's MAXLEN would
    drop a backlog's unanswered intents."""
    pipe = sync.pipeline(transaction=False)
    for i in range(1000):
        pipe.xadd("trade.intent", {"data": json.dumps({"intent_id": f"backlog-{i}", "symbol": "BTCUSDT",
                                                       "side": "BUY", "quantity": 0.002})})
    pipe.execute()
    done = cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "1", "--timeout", "0.5",
               env={"REDIS_URL": redis_url, "STREAM_MAXLEN": "100"})
    assert done.returncode == 3
    assert sync.xlen("trade.intent") == 1001


@pytest.mark.parametrize("command", [("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "1"), ("results",)])
def test_send_and_results_say_in_one_line_that_redis_does_not_answer(command: tuple[str, ...]) -> None:
    port = free_port()
    done = cli(*command, env={"REDIS_URL": f"redis://:hunter2-pw@127.0.0.1:{port}/0"})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: redis unavailable: ") and f"127.0.0.1:{port}" in line and "hunter2" not in line


def test_results_prints_recent_results(running, redis_url) -> None:
    for qty in ("0.002", "0.003"):
        assert cli("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", qty,
                   env={"REDIS_URL": redis_url}).returncode == 0
    done = cli("results", "--count", "5", env={"REDIS_URL": redis_url})
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["executed_quantity"] for r in lines] == [0.002, 0.003]
    assert all(r["result_id"] for r in lines)


def test_check_reports_liveness_and_readiness(running) -> None:
    assert cli("check", "--url", running.url).returncode == 0
    assert cli("check", "--url", running.url, "--ready").returncode == 0
    assert cli("check", "--url", "http://127.0.0.1:9").returncode == 1


@pytest.mark.parametrize(("env", "variable"), [
    ({"MAX_LEVERAGE": "lots"}, "MAX_LEVERAGE"),
    ({"EXECUTION_MODE": "YOLO"}, "EXECUTION_MODE"),
    ({"EXECUTION_MODE": "LIVE", "BINANCE_API_KEY": "k-secret-1", "BINANCE_API_SECRET": "s-secret-2"},
     "LIVE_TRADING_CONFIRMED"),
    ({"EXECUTION_MODE": "TESTNET"}, "BINANCE_API_KEY"),
    ({"PORT": "70000"}, "PORT"),
    ({"REDIS_URL": "notaurl"}, "REDIS_URL"),
])
def test_serve_refuses_an_invalid_setting_with_one_line_naming_it(env: dict[str, str], variable: str) -> None:
    done = cli("serve", env=env, timeout=20)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and lines[0].startswith("error: invalid setting")
    assert "secret" not in done.stderr


@pytest.mark.parametrize("command", [("send", "--symbol", "BTCUSDT", "--side", "BUY", "--quantity", "1"), ("results",)])
def test_send_and_results_refuse_a_malformed_redis_url_with_one_line(command: tuple[str, ...]) -> None:
    done = cli(*command, env={"REDIS_URL": "notaurl"}, timeout=20)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid setting REDIS_URL: must look like redis://[:password@]host:port/db "
        "(or rediss://…, unix:///path/to/socket)"]


def test_serve_refuses_an_unsupported_tracing_setting_with_one_line() -> None:
    done = cli("serve", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, timeout=20)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "OTEL_EXPORTER_OTLP_PROTOCOL" in lines[0]
