"""Every Binance error code and transport failure the issue lists maps to the right kind and report."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from binance.exceptions import BinanceAPIException, BinanceRequestException
from multidict import CIMultiDict

from app.exchange.binance.errors import CODE_KINDS, REPORTS, Kind, describe, from_exception, kind_of
from app.models.result import Reason, Status


class _Response:
    """What BinanceAPIException reads from an aiohttp response: its headers."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = CIMultiDict(headers or {})


def api_error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> BinanceAPIException:
    return BinanceAPIException(_Response(headers), status, json.dumps({"code": code, "msg": msg}))


# (HTTP status, code, Binance's message) -> (kind, result status, reason) for every code the issue lists.
LISTED = [
    (400, -1013, "Filter failure: LOT_SIZE", Kind.FILTER, Status.REJECTED, Reason.EXCHANGE_FILTER),
    (400, -4164, "Order's notional must be no smaller than 100 (unless you choose reduce only).",
     Kind.FILTER, Status.REJECTED, Reason.EXCHANGE_FILTER),
    (400, -2010, "Account has insufficient balance for requested action.",
     Kind.BALANCE, Status.REJECTED, Reason.INSUFFICIENT_BALANCE),
    (400, -2018, "Balance is insufficient.", Kind.BALANCE, Status.REJECTED, Reason.INSUFFICIENT_BALANCE),
    (400, -2019, "Margin is insufficient.", Kind.BALANCE, Status.REJECTED, Reason.INSUFFICIENT_BALANCE),
    (429, -1003, "Too much request weight used; current limit is 1200 request weight per 1 MINUTE.",
     Kind.RATE_LIMIT, Status.REJECTED, Reason.RATE_LIMITED),
    (429, -1015, "Too many new orders; current limit is 50 orders per 10 SECOND.",
     Kind.RATE_LIMIT, Status.REJECTED, Reason.RATE_LIMITED),
    (418, -1003, "Way too much request weight used; IP banned until 1700000000000.",
     Kind.BANNED, Status.REJECTED, Reason.RATE_LIMITED),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", Kind.AUTH, Status.FAILED, Reason.EXCHANGE_AUTH),
    (400, -1022, "Signature for this request is not valid.", Kind.AUTH, Status.FAILED, Reason.EXCHANGE_AUTH),
    (400, -1021, "Timestamp for this request is outside of the recvWindow.",
     Kind.CLOCK, Status.FAILED, Reason.EXCHANGE_UNAVAILABLE),
    (400, -1121, "Invalid symbol.", Kind.UNKNOWN_SYMBOL, Status.REJECTED, Reason.EXCHANGE_REJECTED),
    (400, -2013, "Order does not exist.", Kind.NOT_FOUND, None, None),
    (400, -2011, "Unknown order sent.", Kind.NOT_FOUND, None, None),
    (400, -4116, "ClientOrderId is duplicated.", Kind.DUPLICATE, None, None),
    (400, -2010, "Duplicate order sent.", Kind.DUPLICATE, None, None),
    (503, -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
     Kind.UNKNOWN_OUTCOME, None, None),
    (500, -1000, "An unknown error occurred while processing the request.", Kind.UNKNOWN_OUTCOME, None, None),
    (400, -2010, "Order would trigger immediately.", Kind.REJECTED, Status.REJECTED, Reason.EXCHANGE_REJECTED),
]


@pytest.mark.parametrize("status,code,msg,kind,result_status,reason", LISTED)
def test_every_listed_code_maps(status: int, code: int, msg: str, kind: Kind, result_status: Status | None,
                                reason: Reason | None) -> None:
    error = from_exception(api_error(status, code, msg))
    assert (error.kind, error.code, error.http_status, error.message) == (kind, code, status, msg)
    if result_status is not None:
        report = error.report()
        assert (report.status, report.reason, report.exchange_code, report.message) == \
               (result_status, reason, code, msg)


def test_every_code_in_the_table_and_every_kind_has_a_report() -> None:
    assert set(REPORTS) == set(Kind)
    for code, kind in CODE_KINDS.items():
        assert kind_of(code, "", 400) is kind


def test_retry_after_is_read_from_the_429_response() -> None:
    error = from_exception(api_error(429, -1003, "Too many requests.", {"Retry-After": "7"}))
    assert error.retry_after_s == 7.0
    assert from_exception(api_error(418, -1003, "banned", {"Retry-After": "soon"})).retry_after_s is None


@pytest.mark.parametrize("exc,kind", [
    (aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
                                  OSError(111, "Connection refused")), Kind.UNAVAILABLE),
    (aiohttp.ConnectionTimeoutError("connect timeout"), Kind.UNAVAILABLE),
    (asyncio.TimeoutError(), Kind.UNKNOWN_OUTCOME),
    (TimeoutError(), Kind.UNKNOWN_OUTCOME),
    (aiohttp.ServerDisconnectedError(), Kind.UNKNOWN_OUTCOME),
    (aiohttp.ClientOSError(104, "Connection reset by peer"), Kind.UNKNOWN_OUTCOME),
    (aiohttp.ClientPayloadError("truncated"), Kind.UNKNOWN_OUTCOME),
    (BinanceRequestException("Invalid Response: <html>"), Kind.UNKNOWN_OUTCOME),
    (RuntimeError("anything else"), Kind.UNKNOWN_OUTCOME),
])
def test_transport_failures_map_by_whether_the_request_may_have_arrived(exc: BaseException, kind: Kind) -> None:
    error = from_exception(exc)
    assert error.kind is kind
    assert error.report().status is Status.FAILED and error.report().reason is Reason.EXCHANGE_UNAVAILABLE


def test_descriptions_drop_signatures_and_timestamps() -> None:
    exc = aiohttp.InvalidURL("http://x/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&signature=ab12cd")
    text = describe(exc)
    assert "ab12cd" not in text and "1700000000000" not in text
    assert text.startswith("InvalidURL: ") and "signature=…" in text


def test_a_non_json_error_body_is_unknown_outcome_and_its_text_scrubbed() -> None:
    class HtmlResponse(_Response):
        text = "<ClientResponse(https://api.binance.com/api/v3/order?timestamp=1700000000000&signature=ab12cd) [502]>"

    error = from_exception(BinanceAPIException(HtmlResponse(), 502, "<html>Bad Gateway</html>"))
    assert (error.kind, error.code, error.http_status) == (Kind.UNKNOWN_OUTCOME, None, 502)
    assert "ab12cd" not in error.message and "signature=…" in error.message


def test_a_waf_refusal_was_not_acted_on() -> None:
    assert from_exception(api_error(403, 0, "Forbidden")).kind is Kind.UNAVAILABLE
