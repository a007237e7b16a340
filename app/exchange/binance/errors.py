"""Every way a Binance call can fail, mapped once to what the adapter must do about it.

    BaseException raised by a python-binance call
    ├── BinanceAPIException (non-2xx with a JSON body) ── by HTTP status, then by code (and -2010's text)
    ├── aiohttp.ClientConnectorError, ConnectionTimeoutError ── UNAVAILABLE: not acted on (never left)
    ├── TimeoutError, aiohttp.ClientError, BinanceRequestException ── UNKNOWN_OUTCOME: it may have arrived
    └── anything else ── UNKNOWN_OUTCOME (logged): an order may exist, so it is looked up, never resent

Codes come from Binance's errors.md (spot) and the USD-M futures error list. Messages are
Binance's own and never contain credentials; transport texts are reduced to the exception type
and a scrubbed first line so a signed URL cannot leak into a result.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping

import aiohttp
from binance.exceptions import BinanceAPIException

from app.exchange.base import ExecutionReport
from app.exchange.window import retry_after
from app.models.result import Reason, Status


class Kind(StrEnum):
    FILTER = "filter"
    BALANCE = "balance"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    UNKNOWN_SYMBOL = "unknown_symbol"
    AUTH = "auth"
    CLOCK = "clock"
    RATE_LIMIT = "rate_limit"
    BANNED = "banned"
    UNKNOWN_OUTCOME = "unknown_outcome"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"


CODE_KINDS: Mapping[int, Kind] = {
    # filters: spot -1013 "Filter failure: …"; USD-M min notional, precision, quantity and price bounds
    -1013: Kind.FILTER, -4164: Kind.FILTER, -1111: Kind.FILTER, -4003: Kind.FILTER, -4004: Kind.FILTER,
    -4005: Kind.FILTER, -4013: Kind.FILTER, -4014: Kind.FILTER, -4016: Kind.FILTER, -4023: Kind.FILTER,
    -4024: Kind.FILTER, -4131: Kind.FILTER,
    -2018: Kind.BALANCE, -2019: Kind.BALANCE,
    -4116: Kind.DUPLICATE,
    -2013: Kind.NOT_FOUND, -2011: Kind.NOT_FOUND,  # -2011: a cancel of no open order by that id
    -1121: Kind.UNKNOWN_SYMBOL,
    -2015: Kind.AUTH, -1022: Kind.AUTH, -2014: Kind.AUTH, -1002: Kind.AUTH,
    -1021: Kind.CLOCK,
    -1003: Kind.RATE_LIMIT, -1015: Kind.RATE_LIMIT,
    -1006: Kind.UNKNOWN_OUTCOME, -1007: Kind.UNKNOWN_OUTCOME,
    -1001: Kind.UNAVAILABLE, -1008: Kind.UNAVAILABLE, -1016: Kind.UNAVAILABLE,
}

# -2010 NEW_ORDER_REJECTED covers several causes; only its message tells them apart.
_REJECTED_TEXTS = ((re.compile(r"duplicate", re.I), Kind.DUPLICATE),
                   (re.compile(r"insufficient balance", re.I), Kind.BALANCE))
_SIGNATURE = re.compile(r"(signature|timestamp)=[^&\s'\"]*", re.I)

# What a failure means for the order it concerned (kinds resolved by look-up are not here).
REPORTS: Mapping[Kind, tuple[Status, Reason]] = {
    Kind.FILTER: (Status.REJECTED, Reason.EXCHANGE_FILTER),
    Kind.BALANCE: (Status.REJECTED, Reason.INSUFFICIENT_BALANCE),
    Kind.UNKNOWN_SYMBOL: (Status.REJECTED, Reason.EXCHANGE_REJECTED),
    Kind.REJECTED: (Status.REJECTED, Reason.EXCHANGE_REJECTED),
    Kind.RATE_LIMIT: (Status.REJECTED, Reason.RATE_LIMITED),
    Kind.BANNED: (Status.REJECTED, Reason.RATE_LIMITED),
    Kind.AUTH: (Status.FAILED, Reason.EXCHANGE_AUTH),
    Kind.CLOCK: (Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
    Kind.UNAVAILABLE: (Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
    Kind.UNKNOWN_OUTCOME: (Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
    Kind.NOT_FOUND: (Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
    Kind.DUPLICATE: (Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
}


@dataclass(frozen=True, slots=True)
class ExchangeError:
    kind: Kind
    message: str
    code: int | None = None
    http_status: int | None = None
    retry_after_s: float | None = None

    def report(self) -> ExecutionReport:
        status, reason = REPORTS[self.kind]
        return ExecutionReport.rejected(reason, self.message, self.code, status=status)


class ExchangeFailure(Exception):
    """Raised inside the adapter by a failed call; never leaves the adapter."""

    def __init__(self, error: ExchangeError, sent_at_ms: int | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent_at_ms = sent_at_ms  # Binance time just before sending; None when nothing was sent


def kind_of(code: int | None, message: str, http_status: int | None) -> Kind:
    """Classify one error response; the HTTP status wins where Binance says it decides."""
    if http_status == 418:
        return Kind.BANNED
    if http_status == 429:
        return Kind.RATE_LIMIT
    if http_status is not None and (http_status >= 500 or http_status == 408):
        return Kind.UNKNOWN_OUTCOME
    if http_status == 403:  # the WAF refused it unread
        return Kind.UNAVAILABLE
    if code == -2010:
        return next((kind for pattern, kind in _REJECTED_TEXTS if pattern.search(message)), Kind.REJECTED)
    if code is not None and code in CODE_KINDS:
        return CODE_KINDS[code]
    return Kind.REJECTED


def from_exception(exc: BaseException) -> ExchangeError:
    """The one mapping from anything a call raised to an ``ExchangeError``."""
    if isinstance(exc, BinanceAPIException):
        message = scrub(str(exc.message or ""))[:300]  # a non-JSON body's text may hold the signed URL
        status = int(exc.status_code) if exc.status_code else None
        code = int(exc.code) if exc.code else None
        retry = retry_after(getattr(exc.response, "headers", None) or {})
        return ExchangeError(kind_of(code, message, status), message, code, status, retry)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return ExchangeError(Kind.UNAVAILABLE, f"could not connect to the exchange: {describe(exc)}")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return ExchangeError(Kind.UNKNOWN_OUTCOME, "no response from the exchange before the request timeout")
    return ExchangeError(Kind.UNKNOWN_OUTCOME, f"exchange request failed: {describe(exc)}")


def describe(exc: BaseException) -> str:
    """Exception type plus a scrubbed first line: no query strings with signatures, no headers."""
    text = scrub(str(exc).splitlines()[0] if str(exc) else "")[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def scrub(text: str) -> str:
    """Blank signature and timestamp values (a signed URL replays within its recvWindow)."""
    return _SIGNATURE.sub(r"\1=…", text)
