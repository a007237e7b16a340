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
_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,20}")
_MAX_EPOCH_S = 1e11  # year 5138: larger numbers are milliseconds (or finer units, which are refused)


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
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("symbol")
    @classmethod
    def _symbol_shape(cls, value: str) -> str:
        if not _SYMBOL_RE.fullmatch(value):
            raise ValueError("must be 2-20 letters or digits, like BTCUSDT")
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
        return value

    @field_validator("quantity", "notional_usd", "position_size_usd", "price", "confidence", "leverage",
                     mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        return value

    @field_validator("leverage", mode="before")
    @classmethod
    def _whole_leverage(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value
            return int(number) if number.is_integer() else value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("reduce_only", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in (0, 1):
            raise ValueError("must be true or false")
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
    """Epoch seconds, epoch milliseconds, or ISO 8601 -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be a timestamp")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("must be epoch seconds, epoch milliseconds or ISO 8601") from None
            if parsed.tzinfo is None:
                raise ValueError("ISO 8601 timestamps need a timezone, e.g. 2026-01-01T00:00:00Z")
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


def decode_fields(entry_id: str, fields: dict[Any, Any], max_bytes: int) -> Intent | InvalidIntent:
    """Turn one stream entry (raw field map, bytes or str) into an Intent or an InvalidIntent."""
    fallback_id = f"entry:{entry_id}"
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
    else:
        body = {k: v for k, v in raw.items() if k not in TRACE_FIELDS}
    return validate_body(entry_id, body, trace)


def validate_body(entry_id: str, body: dict[str, Any], trace: dict[str, str]) -> Intent | InvalidIntent:
    try:
        model = IntentBody.model_validate(body)
    except ValidationError as exc:
        intent_id = _salvage_id(body) or f"entry:{entry_id}"
        symbol = body.get("symbol") if isinstance(body.get("symbol"), str) else None
        side = body.get("side") if isinstance(body.get("side"), str) else None
        return InvalidIntent(entry_id, intent_id, _describe(exc), _clip(symbol), _clip(side), trace)
    except RecursionError:
        return InvalidIntent(entry_id, f"entry:{entry_id}", "data is nested too deeply", trace=trace)
    return Intent(
        entry_id=entry_id,
        intent_id=model.intent_id or f"entry:{entry_id}",
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
    if isinstance(value, (str, int)) and not isinstance(value, bool) and _ID_RE.fullmatch(str(value)):
        return str(value)
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
