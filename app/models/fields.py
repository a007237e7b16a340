"""The field rules every kind of intent shares, and the answer to an entry that breaks them.

New orders (app/models/intent.py) and order actions (app/models/actions.py) read ids, symbols,
numbers and timestamps the same way, so each rule lives here once; docs/contract.md lists the
spellings under "Accepted spellings".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

MAX_QUANTITY = 1e9
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
_NUMBER_MESSAGE = "must be a number in ASCII digits, like 0.002 or 1e-3"
_MAX_EPOCH_S = 1e11  # year 5138: larger numbers are milliseconds (or finer units, which are refused)

Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class InvalidIntent:
    """An entry that is no intent, with what the service could still read of it for the result."""

    entry_id: str
    intent_id: str
    message: str
    symbol: str | None = None
    side: str | None = None
    trace: dict[str, str] | None = None


def number(value: Any) -> Any:
    """A JSON number as it is; a string only when it spells a JSON number, read as that number."""
    kind = value.__class__
    if kind is float or kind is int:  # what producers send: the rest costs nothing then
        return value
    if kind is bool:
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        match = _NUMBER_RE.fullmatch(value)
        if match is None:
            raise ValueError(_NUMBER_MESSAGE)
        # digits only: an integer, as JSON gives it (int() refuses more than 4,300 digits; so many are
        # beyond any float's range, and the float is infinite)
        return int(value) if match.lastindex is None and len(value) <= 4000 else float(value)
    return value


def upper(value: Any) -> Any:
    """Any case of ASCII letters; anything else is left to fail the field's check as it is."""
    return value.upper() if value.__class__ is str and value.isascii() else value


def symbol_shape(value: str | None) -> str | None:
    if value is not None and not _SYMBOL_RE.fullmatch(value):
        raise ValueError("must be 2-20 ASCII letters or digits, like BTCUSDT")
    return value


def id_text(value: Any) -> Any:
    """A string of 1-128 printable ASCII characters, or a JSON integer read as its digits."""
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError("must be a string")
    value = str(value)
    if not _ID_RE.fullmatch(value):
        raise ValueError("must be 1-128 printable ASCII characters without spaces")
    return value


def own_id(value: Any) -> Any:
    """An id a producer gives its own intent: ``entry:`` names intents sent without one."""
    value = id_text(value)
    if value is not None and value.startswith(RESERVED_ID_PREFIX):
        raise ValueError(f"must not start with {RESERVED_ID_PREFIX}, which names intents sent without an id")
    return value


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
        seconds = float(value)  # an integer beyond the float range raises OverflowError, not ValueError
    except (TypeError, OverflowError):
        raise ValueError("must be a positive finite timestamp") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be a positive finite timestamp")
    return _plausible(seconds / 1000.0 if seconds > _MAX_EPOCH_S else seconds)


def _plausible(seconds: float) -> float:
    """Microseconds or nanoseconds would read as a date millennia ahead and never expire: refuse them."""
    if seconds > _MAX_EPOCH_S:
        raise ValueError("must be epoch seconds, epoch milliseconds or ISO 8601 (this is far in the future)")
    return seconds


def validated(model: type[Body], entry_id: str, body: dict[str, Any],
              trace: dict[str, str]) -> Body | InvalidIntent:
    """``body`` read by ``model``, or the InvalidIntent naming the first few fields that are wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return invalid(entry_id, body, trace, _describe(exc))
    except RecursionError:
        return InvalidIntent(entry_id, RESERVED_ID_PREFIX + entry_id, "data is nested too deeply", trace=trace)


def invalid(entry_id: str, body: dict[str, Any], trace: dict[str, str], message: str) -> InvalidIntent:
    """The refusal of ``body``, carrying the id, symbol and side it gave when they can be read."""
    symbol = body.get("symbol") if isinstance(body.get("symbol"), str) else None
    side = body.get("side") if isinstance(body.get("side"), str) else None
    return InvalidIntent(entry_id, _salvage_id(body) or RESERVED_ID_PREFIX + entry_id, message, clip(symbol),
                         clip(side), trace)


def _salvage_id(body: dict[str, Any]) -> str | None:
    try:
        return own_id(body.get("intent_id"))
    except ValueError:
        return None


def clip(value: str | None) -> str | None:
    """At most 32 characters, and only text the result can carry (a JSON escape can hold a lone surrogate)."""
    if not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value[:32]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)[:500]
