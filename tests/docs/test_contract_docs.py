"""docs/contract.md, the JSON Schemas and the examples describe the contract the code enforces."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis.asyncio as aioredis

from app.exchange.base import ExecutionReport
from app.execution import results
from app.models.actions import ActionBody, OrderAction
from app.models.intent import Intent, IntentBody, InvalidIntent, decode_fields
from app.models.result import Reason, Result, Status

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
CONTRACT = (DOCS / "contract.md").read_text()
INTENT_SCHEMA = json.loads((DOCS / "schemas" / "intent.schema.json").read_text())
RESULT_SCHEMA = json.loads((DOCS / "schemas" / "result.schema.json").read_text())
EVENT_SCHEMA = json.loads((DOCS / "schemas" / "order-event.schema.json").read_text())
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
INTENT_EXAMPLES = sorted(EXAMPLES.glob("intent-*.json"))
RESULT_EXAMPLES = sorted(EXAMPLES.glob("result-*.json"))
EVENT_EXAMPLES = sorted(EXAMPLES.glob("order-event-*.json"))


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def errors(schema: dict[str, Any], doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator(schema).iter_errors(doc)]


@pytest.mark.parametrize("schema", [INTENT_SCHEMA, RESULT_SCHEMA, EVENT_SCHEMA], ids=["intent", "result", "event"])
def test_schemas_are_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_there_are_examples_of_each_kind() -> None:
    assert len(INTENT_EXAMPLES) >= 4 and len(RESULT_EXAMPLES) >= 6
    docs = [json.loads(p.read_text()) for p in RESULT_EXAMPLES]
    assert {"FILLED", "NEW", "REJECTED"} <= {d["status"] for d in docs}
    assert len({d["reason"] for d in docs if d["status"] == "REJECTED"}) >= 4
    assert any(d["duplicate"] for d in docs)
    intents = [json.loads(p.read_text()) for p in INTENT_EXAMPLES]
    assert {"quantity", "notional_usd", "position_size_usd"} <= {k for i in intents for k in i}
    assert any(i.get("order_type") == "LIMIT" for i in intents)
    assert {"CANCEL", "CANCEL_ALL", "AMEND"} <= {i.get("action") for i in intents}
    assert any("expire_after_s" in i for i in intents)
    assert {"CANCELED", "AMENDED"} <= {d["status"] for d in docs}
    assert "ORDER_NOT_OPEN" in {d["reason"] for d in docs}
    events = [json.loads(p.read_text()) for p in EVENT_EXAMPLES]
    assert {"NEW", "TRADE", "CANCELED", "EXPIRED"} <= {e["execution_type"] for e in events}
    assert {"PARTIALLY_FILLED", "FILLED"} <= {e["status"] for e in events}


@pytest.mark.parametrize("path", INTENT_EXAMPLES, ids=lambda p: p.name)
def test_intent_examples_validate_and_decode(path: Path) -> None:
    body = json.loads(path.read_text())
    assert errors(INTENT_SCHEMA, body) == []
    parsed = decode_fields("1767225600000-0", {"data": path.read_text()}, 65536)
    assert parsed.intent_id == body["intent_id"] and parsed.symbol == body.get("symbol")
    if body.get("action", "NEW") == "NEW":
        assert isinstance(parsed, Intent), parsed
        assert parsed.expire_after_s == body.get("expire_after_s")
    else:
        assert isinstance(parsed, OrderAction), parsed
        assert (parsed.action, parsed.target_intent_id) == (body["action"], body.get("target_intent_id"))
        assert (parsed.price, parsed.quantity) == (body.get("price"), body.get("quantity"))


@pytest.mark.parametrize("path", RESULT_EXAMPLES, ids=lambda p: p.name)
def test_result_examples_validate_and_parse(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert errors(RESULT_SCHEMA, doc) == []
    assert set(doc) == set(Result.model_fields)
    assert json.loads(Result.model_validate(doc).model_dump_json()) == doc


@pytest.mark.parametrize("path", INTENT_EXAMPLES + RESULT_EXAMPLES + EVENT_EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_listed_in_the_contract(path: Path) -> None:
    assert f"(examples/{path.name})" in CONTRACT


def test_links_in_the_contract_resolve() -> None:
    for target in re.findall(r"\]\(((?:examples|schemas)/[^)]+)\)", CONTRACT):
        assert (DOCS / target).exists(), target


def test_duplicate_example_keeps_the_original_outcome() -> None:
    original = json.loads((EXAMPLES / "result-filled.json").read_text())
    dup = json.loads((EXAMPLES / "result-duplicate.json").read_text())
    assert dup["duplicate"] is True and original["duplicate"] is False
    for key in ("intent_id", "status", "reason", "executed_quantity", "avg_price", "fee", "exchange_order_id",
                "client_order_id"):
        assert dup[key] == original[key], key
    assert dup["intent_entry_id"] != original["intent_entry_id"]


# -- reason codes and statuses ------------------------------------------------------------------

def reason_rows() -> dict[str, str]:
    """Reason code -> status column of the contract's reason table."""
    return dict(re.findall(r"^\| `([A-Z_]+)` \| ([A-Z_]+) \|", CONTRACT, re.M))


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_is_documented_with_its_status(reason: Reason) -> None:
    rows = reason_rows()
    assert reason.value in rows, f"{reason.value} is missing from the reason table in docs/contract.md"
    if reason in results.FAILURE_REASONS:
        assert rows[reason.value] == "FAILED"


def test_the_reason_table_documents_no_unknown_codes() -> None:
    assert set(reason_rows()) == {r.value for r in Reason}


def test_schema_enums_match_the_code() -> None:
    assert set(RESULT_SCHEMA["properties"]["reason"]["enum"]) == {r.value for r in Reason} | {None}
    assert set(RESULT_SCHEMA["properties"]["status"]["enum"]) == {s.value for s in Status}
    for status in Status:
        assert f"| `{status.value}` |" in CONTRACT


def test_result_schema_lists_every_result_field() -> None:
    assert set(RESULT_SCHEMA["properties"]) == set(Result.model_fields)
    assert set(RESULT_SCHEMA["required"]) == set(Result.model_fields)
    for name in Result.model_fields:
        assert f"`{name}`" in CONTRACT, f"result field {name} is not described in docs/contract.md"


def test_intent_schema_and_contract_list_every_intent_field() -> None:
    fields = set(IntentBody.model_fields) | set(ActionBody.model_fields)
    assert set(INTENT_SCHEMA["properties"]) == fields
    for name in fields:
        assert f"`{name}`" in CONTRACT, f"intent field {name} is not described in docs/contract.md"


# -- order events ---------------------------------------------------------------------------------

TERMINAL = {"FILLED", "CANCELED", "EXPIRED", "REJECTED"}


@pytest.mark.parametrize("path", EVENT_EXAMPLES, ids=lambda p: p.name)
def test_order_event_examples_validate(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert errors(EVENT_SCHEMA, doc) == []
    assert set(doc) == set(EVENT_SCHEMA["required"]) == set(EVENT_SCHEMA["properties"]), "every field, always"
    assert doc["event_id"] == f"{doc['intent_id']}:{doc['seq']}"
    assert doc["executed_quantity"] <= doc["quantity"]


def test_the_contract_describes_every_order_event_field() -> None:
    for name in EVENT_SCHEMA["properties"]:
        assert f"`{name}`" in CONTRACT, f"order event field {name} is not described in docs/contract.md"


def test_one_orders_events_keep_the_guarantees() -> None:
    """The examples of sig-20260101-0003 are one order's story: contiguous, cumulative, one terminal event last."""
    story = sorted((e for e in map(lambda p: json.loads(p.read_text()), EVENT_EXAMPLES)
                    if e["intent_id"] == "sig-20260101-0003"), key=lambda e: e["seq"])
    assert [e["seq"] for e in story] == list(range(1, len(story) + 1)) and len(story) >= 3
    assert all(a["executed_quantity"] <= b["executed_quantity"] and a["fee"] <= b["fee"] for a, b in zip(story, story[1:]))
    assert [e["status"] in TERMINAL for e in story] == [False] * (len(story) - 1) + [True]
    canceled = json.loads((EXAMPLES / "result-canceled.json").read_text())
    assert story[-1]["cause_intent_id"] == canceled["intent_id"]
    assert canceled["remaining_quantity"] == pytest.approx(story[-1]["quantity"] - story[-1]["executed_quantity"])


NO_FILL = {"last_fill_quantity": None, "last_fill_price": None, "trade_id": None}
BAD_EVENTS = [  # changes to order-event-trade-partial.json
    {"last_fill_quantity": None},
    {"status": "NEW"},
    {"execution_type": "CANCELED", "status": "CANCELED", **NO_FILL},  # no reason
    {"execution_type": "EXPIRED", "status": "CANCELED", "reason": "EXPIRE_AFTER", **NO_FILL},
    {"execution_type": "AMENDED", "status": "PARTIALLY_FILLED", "reason": "AMEND_INTENT"},  # fill fields kept
    {"execution_type": "NEW", "status": "FILLED", **NO_FILL},
    {"execution_type": "REJECTED", "status": "REJECTED", "reason": "EXCHANGE_FILTER"},  # fill fields kept
    {"seq": 0},
    {"status": "PENDING"},
    {"executed_quantity": -1},
    {"price": None},
    {"event_time": "2026-11-21 22:59:41Z"},
]


@pytest.mark.parametrize("change", BAD_EVENTS, ids=lambda c: json.dumps(c)[:60])
def test_the_event_schema_refuses_inconsistent_events(change: dict[str, Any]) -> None:
    event = {**json.loads((EXAMPLES / "order-event-trade-partial.json").read_text()), **change}
    assert errors(EVENT_SCHEMA, event)


def test_the_event_schema_requires_every_field() -> None:
    event = json.loads((EXAMPLES / "order-event-new.json").read_text())
    for name in event:
        assert errors(EVENT_SCHEMA, {k: v for k, v in event.items() if k != name}), name


# -- results built by the code validate -----------------------------------------------------------

RECEIVED, NOW = 1_767_225_600.0, 1_767_225_600.004


def sample_intent(**fields: Any) -> Intent:
    body = {"intent_id": "doc-1", "symbol": "BTCUSDT", "side": "SELL", "quantity": 0.002, **fields}
    parsed = decode_fields("1767225600000-0", {"data": json.dumps(body)}, 65536)
    assert isinstance(parsed, Intent)
    return parsed


def built_results() -> list[Result]:
    from decimal import Decimal as D
    it = sample_intent(source="ai", strategy="s", confidence=0.5)
    fill = ExecutionReport(status=Status.FILLED, executed_qty=D("0.002"), avg_price=D("94985.8"),
                           quote_qty=D("189.9716"), fee=D("0.07598864"), fee_asset="USDT", exchange_order_id="7")
    partial = ExecutionReport(status=Status.PARTIALLY_FILLED, executed_qty=D("0.001"), avg_price=D("95000"),
                              quote_qty=D("95"), fee=D("0.038"), fee_asset="USDT", exchange_order_id="8")
    resting = ExecutionReport(status=Status.NEW, reason=Reason.ORDER_OPEN, exchange_order_id="9", message="rests")
    refused = ExecutionReport.rejected(Reason.INSUFFICIENT_BALANCE, "Margin is insufficient.", -2019)
    built = [
        results.executed(it, 0.002, fill, "PAPER", "c", RECEIVED, NOW),
        results.executed(it, 0.002, partial, "TESTNET", "c", RECEIVED, NOW),
        results.executed(sample_intent(order_type="LIMIT", price=90000), 0.002, resting, "LIVE", "c", RECEIVED, NOW),
        results.executed(it, 0.002, refused, "PAPER", "c", RECEIVED, NOW),
        results.invalid(InvalidIntent("2-0", "entry:2-0", "data is not valid JSON: ..."), "PAPER", "c", RECEIVED, NOW),
        results.invalid(InvalidIntent("3-0", "x", "bad", "BTCUSDT", "BUY"), "PAPER", "c", RECEIVED, NOW,
                        Reason.DEAD_LETTER),
    ]
    built += [results.denied(it, reason, f"{reason.value} happened", "PAPER", "c", RECEIVED, NOW, 0.002)
              for reason in Reason]
    built.append(results.duplicate(built[0].model_dump_json(), "4-0", NOW, NOW + 0.001))
    return built


@pytest.mark.parametrize("result", built_results(), ids=lambda r: f"{r.status}-{r.reason}-{r.duplicate}")
def test_results_built_by_the_service_validate(result: Result) -> None:
    assert errors(RESULT_SCHEMA, json.loads(result.model_dump_json())) == []


# -- the schema and the decoder agree on what is invalid --------------------------------------------

GOOD = {"symbol": "BTCUSDT", "side": "BUY", "quantity": 0.002}
BAD_BODIES = [
    {"symbol": "BTCUSDT", "side": "BUY"},
    {**GOOD, "notional_usd": 100},
    {"symbol": "BTCUSDT", "side": "BUY", "notional_usd": 100, "position_size_usd": 100},
    {**GOOD, "quantity": 0},
    {**GOOD, "quantity": -1},
    {**GOOD, "quantity": 2e9},
    {**GOOD, "quantity": True},
    {**GOOD, "side": "HOLD"},
    {**GOOD, "symbol": "BTC/USDT"},
    {**GOOD, "order_type": "LIMIT"},
    {**GOOD, "order_type": "STOP"},
    {**GOOD, "leverage": 0},
    {**GOOD, "leverage": 200},
    {**GOOD, "leverage": 2.5},
    {**GOOD, "time_in_force": "GTD", "order_type": "LIMIT", "price": 1},
    {**GOOD, "reduce_only": "maybe"},
    {**GOOD, "intent_id": "has space"},
    {**GOOD, "intent_id": ""},
    {**GOOD, "created_at": "yesterday"},
    {**GOOD, "created_at": -5},
    {**GOOD, "source": "x" * 129},
    {**GOOD, "intent_id": "entry:1767225600000-0"},
    {**GOOD, "created_at": "2026-01-01 00:00:00Z"},
    {**GOOD, "created_at": "20260101T000000Z"},
    {**GOOD, "created_at": "2026-01-01T00:00:00z"},
    {**GOOD, "created_at": "٢٠٢٦-٠١-٠١T٠٠:٠٠:٠٠Z"},
]


CANCEL = {"action": "CANCEL", "intent_id": "c-1", "target_intent_id": "sig-1"}
AMEND = {"action": "AMEND", "intent_id": "a-1", "target_intent_id": "sig-1", "price": 90000}
LIMIT = {**GOOD, "order_type": "LIMIT", "price": 90000}
BAD_BODIES += [
    {**GOOD, "action": "MODIFY"},
    {**GOOD, "target_intent_id": "sig-1"},
    {**GOOD, "expire_after_s": 60},
    {**LIMIT, "time_in_force": "IOC", "expire_after_s": 60},
    {**LIMIT, "expire_after_s": 0},
    {**LIMIT, "expire_after_s": 2_592_001},
    {k: v for k, v in CANCEL.items() if k != "target_intent_id"},
    {**CANCEL, "quantity": 0.001},
    {**CANCEL, "target_intent_id": "has space"},
    {"action": "CANCEL_ALL", "target_intent_id": "sig-1"},
    {"action": "CANCEL_ALL", "symbol": "BTC/USDT"},
    {"action": "CANCEL_ALL", "price": 1},
    {k: v for k, v in AMEND.items() if k != "price"},
    {k: v for k, v in AMEND.items() if k != "target_intent_id"},
    {**AMEND, "notional_usd": 100},
    {**AMEND, "position_size_usd": 100},
    {**AMEND, "price": 0},
    {**AMEND, "quantity": 2e9},
    {**AMEND, "intent_id": "entry:1-0"},
]
GOOD_BODIES = [
    CANCEL, {**CANCEL, "symbol": "BTCUSDT"}, {**CANCEL, "target_intent_id": "entry:1767225600000-0"},
    {"action": "CANCEL_ALL"}, {"action": "CANCEL_ALL", "symbol": "BTCUSDT"},
    AMEND, {**AMEND, "quantity": 0.003}, {k: v for k, v in {**AMEND, "quantity": 0.003}.items() if k != "price"},
    {**GOOD, "action": "NEW"}, {**LIMIT, "expire_after_s": 2_592_000}, {**LIMIT, "time_in_force": "GTC", "expire_after_s": 0.5},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: json.dumps(b)[:60])
def test_what_the_schema_refuses_the_service_refuses(body: dict[str, Any]) -> None:
    assert errors(INTENT_SCHEMA, body), "the schema should refuse this body"
    assert isinstance(decode_fields("1-0", {"data": json.dumps(body)}, 65536), InvalidIntent)


@pytest.mark.parametrize("body", GOOD_BODIES, ids=lambda b: json.dumps(b)[:60])
def test_what_the_schema_accepts_the_service_accepts(body: dict[str, Any]) -> None:
    assert errors(INTENT_SCHEMA, body) == []
    expected = OrderAction if body.get("action", "NEW") != "NEW" else Intent
    assert isinstance(decode_fields("1-0", {"data": json.dumps(body)}, 65536), expected)


# -- the redis-cli commands shown in the contract work ----------------------------------------------

def redis_cli_commands(markdown: str) -> list[list[str]]:
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.S):
        for line in block.splitlines():
            if line.startswith("redis-cli ") and " XADD " in line:
                args = shlex.split(line)[1:]
                while args[0].startswith("-"):  # connection options such as -p 6380
                    args = args[2:]
                commands.append(args)
    return commands


def test_the_contract_shows_flat_and_data_entries() -> None:
    commands = redis_cli_commands(CONTRACT)
    assert any("data" in c for c in commands) and sum("data" not in c for c in commands) >= 2


@pytest.mark.parametrize("command", redis_cli_commands(CONTRACT), ids=lambda c: " ".join(c)[:70])
async def test_redis_cli_examples_decode_to_intents(aredis: aioredis.Redis, command: list[str]) -> None:
    entry_id = (await aredis.execute_command(*command)).decode()
    [(read_id, fields)] = await aredis.xrange(command[1], entry_id, entry_id)
    parsed = decode_fields(read_id.decode(), fields, 65536)
    is_action = "action" in command or '"action"' in command[-1]  # a flat field, or a key in data
    assert isinstance(parsed, OrderAction if is_action else Intent), parsed
