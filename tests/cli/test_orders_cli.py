"""`orders` and `cancel` as a user runs them, against a real service and Redis."""

from __future__ import annotations

import json
import re
import signal

import pytest

from tests.utils.cli import Running, cli
from tests.utils.streams import intent, publish, wait_results


@pytest.fixture
def running(services):
    return services("cli-orders")


def resting(sync, **fields) -> dict:
    """A PAPER LIMIT BUY far below the market: it rests, answered NEW."""
    body = intent("BTCUSDT", "BUY", quantity=0.002, order_type="LIMIT", price=50000, **fields)
    before = sync.xlen("execution.result")
    publish(sync, body)
    assert wait_results(sync, before + 1)[-1]["status"] == "NEW"
    return body


def intents(sync) -> list[dict]:
    return [json.loads(fields[b"data"]) for _, fields in sync.xrange("trade.intent")]


def test_orders_prints_the_open_orders_one_json_line_each(running, redis_url, sync) -> None:
    empty = cli("orders", env={"REDIS_URL": redis_url})
    assert empty.returncode == 0 and empty.stdout == "" and "no open orders" in empty.stderr
    first, second = resting(sync), resting(sync)
    done = cli("orders", env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["intent_id"] for o in lines] == [first["intent_id"], second["intent_id"]]
    assert all(o["status"] == "NEW" and o["price"] == 50000 for o in lines)
    assert cli("orders", "--symbol", "ethusdt", env={"REDIS_URL": redis_url}).stdout == ""


def test_orders_follow_prints_each_event_until_ctrl_c(running, redis_url, sync) -> None:
    before = resting(sync)   # an event from before the start: not printed without --from-start
    follower = Running("orders", "--follow", env={"REDIS_URL": redis_url})
    try:
        assert follower.line(follower.stderr).startswith("following execution.order after ")
        body = resting(sync)
        new = json.loads(follower.line(follower.stdout))
        assert (new["intent_id"], new["status"], new["seq"], new["event_id"]) == (
            body["intent_id"], "NEW", 1, f"{body['intent_id']}:1")
        canceled = cli("cancel", body["intent_id"], env={"REDIS_URL": redis_url})
        assert canceled.returncode == 0, canceled.stderr
        end = json.loads(follower.line(follower.stdout))
        assert (end["intent_id"], end["status"], end["seq"]) == (body["intent_id"], "CANCELED", 2)
        assert follower.stop(signal.SIGINT) == 0
        assert "Traceback" not in "\n".join(follower.rest(follower.stderr))
        assert before["intent_id"] not in "\n".join(follower.rest(follower.stdout))
    finally:
        follower.kill()


def test_orders_follow_from_start_replays_the_stream_for_one_symbol(running, redis_url, sync) -> None:
    body = resting(sync)
    publish(sync, intent("ETHUSDT", "BUY", quantity=0.05))
    wait_results(sync, 2)
    follower = Running("orders", "--follow", "--from-start", "--symbol", "BTCUSDT", env={"REDIS_URL": redis_url})
    try:
        event = json.loads(follower.line(follower.stdout))
        assert (event["intent_id"], event["status"]) == (body["intent_id"], "NEW")
        assert follower.stop(signal.SIGTERM) == 0
        assert follower.rest(follower.stdout) == [], "another symbol's event was printed"
    finally:
        follower.kill()


def test_cancel_publishes_a_cancel_intent(redis_url, sync) -> None:
    done = cli("cancel", "sig-42", "--no-wait", env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    named = cli("cancel", "sig-43", "--intent-id", "c-1", "--no-wait", env={"REDIS_URL": redis_url})
    assert named.returncode == 0, named.stderr
    first, second = intents(sync)
    assert (first["action"], first["target_intent_id"]) == ("CANCEL", "sig-42")
    assert re.fullmatch(r"cancel-sig-42-[0-9a-f]{8}", first["intent_id"])
    assert json.loads(done.stdout)["intent_id"] == first["intent_id"]
    assert (second["action"], second["intent_id"], second["target_intent_id"]) == ("CANCEL", "c-1", "sig-43")
    assert "symbol" not in first and "symbol" not in second


def test_cancel_all_publishes_cancel_all_for_every_or_one_symbol(redis_url, sync) -> None:
    assert cli("cancel", "--all", "--no-wait", env={"REDIS_URL": redis_url}).returncode == 0
    assert cli("cancel", "--all", "--symbol", "btcusdt", "--no-wait", env={"REDIS_URL": redis_url}).returncode == 0
    every, one = intents(sync)
    assert every["action"] == one["action"] == "CANCEL_ALL"
    assert "target_intent_id" not in every and "symbol" not in every and every["intent_id"].startswith("cancel-all-")
    assert one["symbol"] == "BTCUSDT" and one["intent_id"] != every["intent_id"]


@pytest.mark.parametrize("args", [(), ("sig-1", "--all"), ("sig-1", "--symbol", "BTCUSDT")])
def test_cancel_refuses_an_ambiguous_command(redis_url, sync, args: tuple[str, ...]) -> None:
    done = cli("cancel", *args, "--no-wait", env={"REDIS_URL": redis_url})
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert sync.xlen("trade.intent") == 0


def test_cancel_prints_its_result(running, redis_url, sync) -> None:
    body = resting(sync)
    done = cli("cancel", body["intent_id"], "--expect-status", "CANCELED", env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["action"], result["target_intent_id"]) == ("CANCELED", "CANCEL", body["intent_id"])
    assert result["remaining_quantity"] == 0.002
    unknown = cli("cancel", "no-such-order", env={"REDIS_URL": redis_url})
    assert unknown.returncode == 0
    assert (json.loads(unknown.stdout)["status"], json.loads(unknown.stdout)["reason"]) == ("REJECTED", "ORDER_NOT_OPEN")


def test_cancel_all_prints_how_many_it_canceled(running, redis_url, sync) -> None:
    resting(sync), resting(sync)
    done = cli("cancel", "--all", "--symbol", "BTCUSDT", env={"REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["action"], result["canceled_count"]) == ("CANCELED", "CANCEL_ALL", 2)
    assert cli("orders", env={"REDIS_URL": redis_url}).stdout == ""
