"""Trade intents: decoding a stream entry into a validated ``Intent``, an ``OrderAction`` or a one-line
reason why not.

Decoding is pure and total: whatever bytes arrive, the caller gets an ``Intent`` (a new order), an
``OrderAction`` (cancel or amend one, app/models/actions.py) or an ``InvalidIntent`` carrying what the
service could still read (intent id, symbol) for the result.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.codec import text
from app.models.actions import ACTION_MESSAGE, NEW, OrderAction, action_of, validate_action
from app.models.fields import (
    MAX_QUANTITY, RESERVED_ID_PREFIX, InvalidIntent, clip, invalid, number, own_id, parse_timestamp,
    symbol_shape, upper, validated,
)

TRACE_FIELDS = ("traceparent", "tracestate")
MAX_EXPIRE_AFTER_S = 30 * 86400
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class IntentBody(BaseModel):
    """The producer's fields; strict where a wrong guess would trade the wrong thing."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, populate_by_name=True)

    intent_id: str | None = None
    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: float | None = Field(None, gt=0, le=MAX_QUANTITY)
    notional_usd: float | None = Field(None, gt=0, validation_alias="notional_usd")
    position_size_usd: float | None = Field(None, gt=0)
    leverage: int = Field(1, ge=1, le=125)
    order_type: Literal["MARKET", "LIMIT"] = "MARKET"
    price: float | None = Field(None, gt=0)
    time_in_force: Literal["GTC", "IOC", "FOK"] = "GTC"
    reduce_only: bool = False
    created_at: float | None = None
    source: str | None = Field(None, max_length=128)
    strategy: str | None = Field(None, max_length=128)
    confidence: float | None = None
    expire_after_s: float | None = Field(None, gt=0, le=MAX_EXPIRE_AFTER_S)

    _upper = field_validator("symbol", "side", "order_type", "time_in_force", mode="before")(staticmethod(upper))
    _symbol = field_validator("symbol")(staticmethod(symbol_shape))
    _own_id = field_validator("intent_id", mode="before")(staticmethod(own_id))
    _numbers = field_validator("quantity", "notional_usd", "position_size_usd", "price", "confidence",
                               "expire_after_s", mode="before")(staticmethod(number))
    _timestamp = field_validator("created_at", mode="before")(staticmethod(parse_timestamp))

    @field_validator("leverage", mode="before")
    @classmethod
    def _whole_leverage(cls, value: Any) -> Any:
        value = number(value)
        return int(value) if value.__class__ is float and value.is_integer() else value

    @field_validator("reduce_only", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        """JSON true/false, the numbers 1 and 0, or the words true/false, yes/no, 1/0 in any ASCII case."""
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            if value not in (0, 1):
                raise ValueError("must be true or false")
            return bool(value)
        if isinstance(value, str):
            flag = _FLAGS.get(value.lower()) if value.isascii() else None
            if flag is None:
                raise ValueError("must be true or false (or yes/no, 1/0)")
            return flag
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_target(cls, data: Any) -> Any:
        """A target without an action is a cancel or amend that lost its ``action``: never a new order."""
        if isinstance(data, dict) and "target_intent_id" in data:
            raise ValueError("target_intent_id: only for the actions CANCEL and AMEND; give action")
        return data

    @model_validator(mode="after")
    def _sizes(self) -> "IntentBody":
        if self.notional_usd is not None and self.position_size_usd is not None:
            raise ValueError("give notional_usd or its alias position_size_usd, not both")
        notional = self.notional_usd if self.notional_usd is not None else self.position_size_usd
        if (self.quantity is None) == (notional is None):
            raise ValueError("exactly one of quantity or notional_usd (position_size_usd) is required")
        self.notional_usd, self.position_size_usd = notional, None
        if self.order_type == "LIMIT" and self.price is None:
            raise ValueError("price is required for LIMIT orders")
        if self.order_type == "MARKET":
            self.price = None
        if self.expire_after_s is not None and (self.order_type, self.time_in_force) != ("LIMIT", "GTC"):
            raise ValueError("expire_after_s: only for LIMIT orders with time_in_force GTC, which rest on the book")
        return self


@dataclass(frozen=True, slots=True)
class Intent:
    entry_id: str
    intent_id: str
    symbol: str
    side: str
    quantity: float | None
    notional_usd: float | None
    leverage: int
    order_type: str
    price: float | None
    time_in_force: str
    reduce_only: bool
    created_at: float | None
    source: str | None
    strategy: str | None
    confidence: float | None
    trace: dict[str, str]
    expire_after_s: float | None = None  # LIMIT GTC: the service cancels the order if still open then

    @property
    def client_order_id(self) -> str:
        return client_order_id(self.intent_id)

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1


@lru_cache(maxsize=8192)
def client_order_id(intent_id: str) -> str:
    """Deterministic exchange client order id: 35 chars of [a-z0-9-], the same on every redelivery."""
    return "ex-" + hashlib.sha256(intent_id.encode()).hexdigest()[:32]


def _loads(raw: str) -> Any:
    """orjson for speed; the standard parser's precise messages (and its NaN rule) when that fails."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit"):
            # refuse past orjson's fixed depth (1024) instead of leaving it to the Python stack
            raise RecursionError(str(exc)) from None
        return json.loads(raw, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid number")


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]')


def repeated_key(raw: str, body: dict[str, Any]) -> str | None:
    """A key that ``raw`` (the valid JSON text ``body`` was parsed from) gives twice in one object.

    Parsers keep the last value of a repeated key, so ``"side":"BUY","side":"SELL"`` would sell.
    The common case is settled without a scan: with no backslash in the text, every '"' in it
    delimits a string, and no parsed string holds a character orjson escapes; so the text has as
    many quotes as ``body`` written out again unless an object lost a member to a repeated key.
    Otherwise the text is scanned, one token at a time (no recursion, whatever the depth).
    """
    if "\\" not in raw:
        try:
            if orjson.dumps(body).count(b'"') == raw.count('"'):
                return None
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, nesting past orjson's limit
            pass
    seen: list[set[str] | None] = []  # per open container: the keys of an object, None for an array
    expect_key = False
    for match in _JSON_TOKEN.finditer(raw):
        token = match.group()
        if token == "{":
            seen.append(set())
            expect_key = True
        elif token == "[":
            seen.append(None)
        elif token in ("]", "}"):
            seen.pop()
            expect_key = False
        elif token == ",":
            expect_key = bool(seen) and seen[-1] is not None
        elif expect_key:
            keys = seen[-1]
            assert keys is not None
            key = json.loads(token) if "\\" in token else token[1:-1]
            if key in keys:
                return key
            keys.add(key)
            expect_key = False
    return None


def decode_fields(entry_id: str, fields: dict[Any, Any], max_bytes: int) -> Intent | OrderAction | InvalidIntent:
    """Turn one stream entry (raw field map, bytes or str) into an Intent, an OrderAction or an InvalidIntent."""
    fallback_id = RESERVED_ID_PREFIX + entry_id
    try:
        raw = {text(k): text(v) for k, v in fields.items()}
    except UnicodeDecodeError:
        return InvalidIntent(entry_id, fallback_id, "entry is not valid UTF-8")
    size = sum(_size(k) + _size(v) for k, v in fields.items())
    trace = {k: raw[k] for k in TRACE_FIELDS if k in raw and len(raw[k]) <= 512}
    if size > max_bytes:
        return InvalidIntent(entry_id, fallback_id, f"entry is {size} bytes, more than the {max_bytes} allowed",
                             trace=trace)
    if "data" in raw:
        try:
            body = _loads(raw["data"])
        except RecursionError:
            return InvalidIntent(entry_id, fallback_id, "data is nested too deeply", trace=trace)
        except ValueError as exc:
            return InvalidIntent(entry_id, fallback_id, f"data is not valid JSON: {_short(exc)}", trace=trace)
        if not isinstance(body, dict):
            return InvalidIntent(entry_id, fallback_id, "data must be a JSON object", trace=trace)
        if (key := repeated_key(raw["data"], body)) is not None:
            return InvalidIntent(entry_id, fallback_id, f"data gives the key {clip(key)!r} more than once",
                                 trace=trace)
    else:
        body = {k: v for k, v in raw.items() if k not in TRACE_FIELDS}
    return validate_body(entry_id, body, trace)


def validate_body(entry_id: str, body: dict[str, Any], trace: dict[str, str]) -> Intent | OrderAction | InvalidIntent:
    """The body read as what its ``action`` says: a new order (NEW, the default) or an order action."""
    action = action_of(body)
    if action is None:
        return invalid(entry_id, body, trace, ACTION_MESSAGE)
    if action != NEW:
        return validate_action(entry_id, body, trace)
    model = validated(IntentBody, entry_id, body, trace)
    if isinstance(model, InvalidIntent):
        return model
    return Intent(
        entry_id=entry_id,
        intent_id=model.intent_id or RESERVED_ID_PREFIX + entry_id,
        symbol=model.symbol,
        side=model.side,
        quantity=model.quantity,
        notional_usd=model.notional_usd,
        leverage=model.leverage,
        order_type=model.order_type,
        price=model.price,
        time_in_force=model.time_in_force,
        reduce_only=model.reduce_only,
        created_at=model.created_at,
        source=model.source,
        strategy=model.strategy,
        confidence=model.confidence,
        trace=trace,
        expire_after_s=model.expire_after_s,
    )


def _size(value: Any) -> int:
    """Bytes on the wire: a character count would let multi-byte text past MAX_INTENT_BYTES."""
    return len(value) if isinstance(value, bytes) else len(str(value).encode("utf-8", "surrogatepass"))


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
