"""Trade intents: decoding a stream entry into a validated ``Intent`` or a one-line reason why not.

Decoding is pure and total: whatever bytes arrive, the caller gets either an ``Intent`` or an
``InvalidIntent`` carrying what the service could still read (intent id, symbol) for the result.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.codec import text

MAX_QUANTITY = 1e9
TRACE_FIELDS = ("traceparent", "tracestate")
# the intent id of an intent sent without one is "entry:<stream entry id>": a producer may not use it
RESERVED_ID_PREFIX = "entry:"
_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,20}")
# The only spellings read, ASCII only (Python's own int(), float(), Decimal(), str.upper() and
# strip() take Arabic-Indic digits, '1_0', 'ſ' for 's', 'ı' for 'i' and a trailing NBSP):
# a number in a string is a JSON number; an ISO 8601 time is the schema's date-time pattern (its
# timezone optional here only to say so when it is missing).
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ISO_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?")
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_NUMBER_MESSAGE = "must be a number in ASCII digits, like 0.002 or 1e-3"
_MAX_EPOCH_S = 1e11  # year 5138: larger numbers are milliseconds (or finer units, which are refused)


def _number(value: Any) -> Any:
    """A JSON number as it is; a string only when it spells a JSON number, read as that number."""
    kind = value.__class__
    if kind is float or kind is int:  # what producers send: the rest costs nothing then
        return value
    if kind is bool:
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        number = _NUMBER_RE.fullmatch(value)
        if number is None:
            raise ValueError(_NUMBER_MESSAGE)
        # digits only: an integer, as JSON gives it (int() refuses more than 4,300 digits; so many are
        # beyond any float's range, and the float is infinite)
        return int(value) if number.lastindex is None and len(value) <= 4000 else float(value)
    return value


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

    @field_validator("symbol", "side", "order_type", "time_in_force", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """Any case of ASCII letters; anything else is left to fail the field's check as it is."""
        return value.upper() if value.__class__ is str and value.isascii() else value

    @field_validator("symbol")
    @classmethod
    def _symbol_shape(cls, value: str) -> str:
        if not _SYMBOL_RE.fullmatch(value):
            raise ValueError("must be 2-20 ASCII letters or digits, like BTCUSDT")
        return value

    @field_validator("intent_id", mode="before")
    @classmethod
    def _id_shape(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError("must be a string")
        value = str(value)
        if not _ID_RE.fullmatch(value):
            raise ValueError("must be 1-128 printable ASCII characters without spaces")
        if value.startswith(RESERVED_ID_PREFIX):
            raise ValueError(f"must not start with {RESERVED_ID_PREFIX}, which names intents sent without an id")
        return value

    _numbers = field_validator("quantity", "notional_usd", "position_size_usd", "price", "confidence",
                               mode="before")(staticmethod(_number))

    @field_validator("leverage", mode="before")
    @classmethod
    def _whole_leverage(cls, value: Any) -> Any:
        value = _number(value)
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

    @field_validator("created_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> Any:
        return parse_timestamp(value)

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
    expire_after_s: float | None = None

    @property
    def client_order_id(self) -> str:
        return client_order_id(self.intent_id)

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1


@dataclass(frozen=True, slots=True)
class InvalidIntent:
    entry_id: str
    intent_id: str
    message: str
    symbol: str | None = None
    side: str | None = None
    trace: dict[str, str] | None = None


@lru_cache(maxsize=8192)
def client_order_id(intent_id: str) -> str:
    """Deterministic exchange client order id: 35 chars of [a-z0-9-], the same on every redelivery."""
    return "ex-" + hashlib.sha256(intent_id.encode()).hexdigest()[:32]


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds, epoch milliseconds, or ISO 8601 (``YYYY-MM-DDTHH:MM:SS[.f]`` and ``Z`` or
    ``±HH:MM``) -> epoch seconds; "" is no timestamp."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be a timestamp")
    if isinstance(value, str):
        if _NUMBER_RE.fullmatch(value):
            value = float(value)
        else:
            iso = _ISO_RE.fullmatch(value)
            if iso is None:
                raise ValueError("must be epoch seconds, epoch milliseconds or ISO 8601")
            if iso.group(1) is None:
                raise ValueError("ISO 8601 timestamps need a timezone, e.g. 2026-01-01T00:00:00Z")
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("must be epoch seconds, epoch milliseconds or ISO 8601") from None
            return _plausible(parsed.timestamp())
    try:
        number = float(value)  # an integer beyond the float range raises OverflowError, not ValueError
    except (TypeError, OverflowError):
        raise ValueError("must be a positive finite timestamp") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError("must be a positive finite timestamp")
    return _plausible(number / 1000.0 if number > _MAX_EPOCH_S else number)


def _plausible(seconds: float) -> float:
    """Microseconds or nanoseconds would read as a date millennia ahead and never expire: refuse them."""
    if seconds > _MAX_EPOCH_S:
        raise ValueError("must be epoch seconds, epoch milliseconds or ISO 8601 (this is far in the future)")
    return seconds


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


def decode_fields(entry_id: str, fields: dict[Any, Any], max_bytes: int) -> Intent | InvalidIntent:
    """Turn one stream entry (raw field map, bytes or str) into an Intent or an InvalidIntent."""
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
            return InvalidIntent(entry_id, fallback_id, f"data gives the key {_clip(key)!r} more than once",
                                 trace=trace)
    else:
        body = {k: v for k, v in raw.items() if k not in TRACE_FIELDS}
    return validate_body(entry_id, body, trace)


def validate_body(entry_id: str, body: dict[str, Any], trace: dict[str, str]) -> Intent | InvalidIntent:
    try:
        model = IntentBody.model_validate(body)
    except ValidationError as exc:
        intent_id = _salvage_id(body) or RESERVED_ID_PREFIX + entry_id
        symbol = body.get("symbol") if isinstance(body.get("symbol"), str) else None
        side = body.get("side") if isinstance(body.get("side"), str) else None
        return InvalidIntent(entry_id, intent_id, _describe(exc), _clip(symbol), _clip(side), trace)
    except RecursionError:
        return InvalidIntent(entry_id, RESERVED_ID_PREFIX + entry_id, "data is nested too deeply", trace=trace)
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
    )



def _size(value: Any) -> int:
    """Bytes on the wire: a character count would let multi-byte text past MAX_INTENT_BYTES."""
    return len(value) if isinstance(value, bytes) else len(str(value).encode("utf-8", "surrogatepass"))


def _salvage_id(body: dict[str, Any]) -> str | None:
    value = body.get("intent_id")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = str(value)
        if _ID_RE.fullmatch(value) and not value.startswith(RESERVED_ID_PREFIX):
            return value
    return None


def _clip(value: str | None) -> str | None:
    """At most 32 characters, and only text the result can carry (a JSON escape can hold a lone surrogate)."""
    if not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value[:32]


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)[:500]
