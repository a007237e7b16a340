"""What a request may cost the service before it is refused, against a real uvicorn on loopback: the admin
token is checked before the body is read or parsed; a body over MAX_REQUEST_BODY_BYTES and a head over
MAX_REQUEST_HEADER_BYTES are refused with JSON (413, 431) without reading the rest; malformed HTTP is 400
JSON. The service runs with small caps so that "the rest" is most of what the client tries to send."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.reliability.figures import record
from tests.utils.raw_http import MIB, Exchange, chunked, exchange, plain
from tests.utils.service import ServiceProcess

TOKEN = "limits-test-admin-token"
BODY_CAP = 4096
HEAD_CAP = 8192
UPLOAD = 100 * MIB          # the 100 MB body
PIECE = 64 * 1024           # sent in pieces this size, so what went out is counted to 64 KiB
# Loopback socket buffers accept a few MiB that the server never reads; a body read in full is 100 MiB.
UNREAD = 32 * MIB


@pytest.fixture(scope="module")
def service(redis_server) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(redis_server.url, name="limits", env={
        "ADMIN_TOKEN": TOKEN, "MAX_REQUEST_BODY_BYTES": str(BODY_CAP), "MAX_REQUEST_HEADER_BYTES": str(HEAD_CAP)})
    svc.start()
    yield svc
    svc.kill()


def post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_error(answer: Exchange, status: int, error: str) -> None:
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == error and body["detail"], body


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
@pytest.mark.parametrize("body", [b"{not json", b"", b'{"state": "SIDEWAYS"}', b"\xff\xfe"])
def test_admin_refuses_a_caller_without_the_token_with_401_whatever_the_body(
        service: ServiceProcess, headers: dict[str, str], body: bytes) -> None:
    answer = service.post("/admin/trading-state", content=body,
                          headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "UNAUTHORIZED" and answer.headers["www-authenticate"] == "Bearer"


def test_an_upload_without_the_token_is_answered_401_and_not_read(service: ServiceProcess) -> None:
    answer = exchange(service.port, post_head("/admin/trading-state", "Content-Type: application/json",
                                              "Transfer-Encoding: chunked"), chunked(UPLOAD, chunk=PIECE))
    assert_error(answer, 401, "UNAUTHORIZED")
    assert answer.closed_by_server and answer.sent < UNREAD, f"{answer.sent} bytes of the upload went out"
    record("http_unauthenticated_upload", body_bytes=UPLOAD, accepted_before_close=answer.sent)


def test_a_body_of_the_cap_is_accepted(service: ServiceProcess) -> None:
    body = json.dumps({"state": "ACTIVE", "reason": ""}).encode()
    body = body.replace(b'""', b'"' + b"r" * (BODY_CAP - len(body)) + b'"')
    assert len(body) == BODY_CAP
    answer = service.post("/admin/trading-state", content=body,
                          headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_cap_is_refused_413_without_reading_the_rest(service: ServiceProcess, framing: str) -> None:
    auth = (f"Authorization: Bearer {TOKEN}", "Content-Type: application/json")
    if framing == "chunked":
        answer = exchange(service.port, post_head("/admin/trading-state", *auth, "Transfer-Encoding: chunked"),
                          chunked(UPLOAD, chunk=PIECE))
    else:
        answer = exchange(service.port, post_head("/admin/trading-state", *auth, f"Content-Length: {UPLOAD}"),
                          plain(UPLOAD, chunk=PIECE))
    assert_error(answer, 413, "BODY_TOO_LARGE")
    assert str(BODY_CAP) in answer.json()["detail"]
    assert answer.closed_by_server and answer.sent < UNREAD, f"{answer.sent} bytes of the body went out"
    record(f"http_body_over_cap_{framing.replace('-', '_')}", body_bytes=UPLOAD, cap=BODY_CAP,
           accepted_before_close=answer.sent)


def test_a_declared_body_over_the_cap_is_refused_on_any_route(service: ServiceProcess) -> None:
    answer = exchange(service.port, (f"GET /positions HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY_CAP + 1}"
                                     "\r\n\r\n").encode(), [b"x" * (BODY_CAP + 1)])
    assert_error(answer, 413, "BODY_TOO_LARGE")


def head_of(size: int, path: str = "/livez") -> bytes:
    """A GET whose URL plus header names and values come to exactly `size` bytes."""
    fixed = len(path) + len("Host") + len("127.0.0.1") + len("X-Pad")
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {'p' * (size - fixed)}\r\n\r\n".encode()


def test_a_head_of_the_cap_is_accepted(service: ServiceProcess) -> None:
    answer = exchange(service.port, head_of(HEAD_CAP))
    assert answer.status == 200 and answer.json() == {"status": "alive"}


@pytest.mark.parametrize("where", ["header", "url", "many headers"])
def test_a_head_over_the_cap_is_refused_431_json(service: ServiceProcess, where: str) -> None:
    if where == "header":
        head = head_of(HEAD_CAP + 1)
    elif where == "url":
        head = f"GET /livez?{'q' * HEAD_CAP} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    else:
        head = ("GET /livez HTTP/1.1\r\n" + "".join(f"X-H{i}: {'v' * 60}\r\n" for i in range(200)) + "\r\n").encode()
    answer = exchange(service.port, head)
    assert_error(answer, 431, "HEADERS_TOO_LARGE")
    assert str(HEAD_CAP) in answer.json()["detail"] and answer.closed_by_server


def test_a_header_that_never_ends_is_refused_before_it_is_read(service: ServiceProcess) -> None:
    answer = exchange(service.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ", plain(UPLOAD, chunk=PIECE))
    assert_error(answer, 431, "HEADERS_TOO_LARGE")
    assert answer.closed_by_server and answer.sent < UNREAD, f"{answer.sent} bytes of the header went out"
    record("http_endless_header", header_bytes=UPLOAD, cap=HEAD_CAP, accepted_before_close=answer.sent)


def test_malformed_http_is_400_json(service: ServiceProcess) -> None:
    answer = exchange(service.port, b"GET /livez HTTP/1.1\r\nHost x\r\n\r\n")
    assert_error(answer, 400, "BAD_REQUEST")


def test_the_service_still_answers_after_the_refusals(service: ServiceProcess) -> None:
    assert service.get("/livez").json() == {"status": "alive"}
    assert TOKEN not in service.logs()
