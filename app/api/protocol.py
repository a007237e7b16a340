"""uvicorn's httptools protocol with a cap on the request head (MAX_REQUEST_HEADER_BYTES), and JSON for
what the server refuses before the app sees a request.

uvicorn bounds neither the URL nor the headers when it parses with httptools, and httptools keeps a
header value in memory until it ends: an 8 MiB header was accepted. Here the URL and the header names
and values are counted as they are parsed, and a head over the cap is answered 431 and the connection
closed. A header that never ends is caught by the bytes received while its head is incomplete, so the
memory one head can take is the cap plus one socket read or two. uvicorn's own answer to malformed
HTTP, a plain-text 400, becomes JSON too.

This overrides parser callbacks of `HttpToolsProtocol` (uvicorn.protocols.http.httptools_impl), the
protocol `uvicorn[standard]` selects; tests/api/test_request_limits.py holds it to its behaviour on a
real server, so an upgrade of uvicorn that changes them fails there.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.api.errors import error_body


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops, and uvicorn answers through send_400_response."""


class CappedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, max_head_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes = max_head_bytes
        self._in_head = False
        self._head_bytes = 0        # URL, header names and values of the request being parsed
        self._unparsed_bytes = 0    # bytes received since its head began, while still incomplete
        self._head_refused = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._unparsed_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._unparsed_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._head_refused = True
            self.send_400_response("request head too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._unparsed_bytes = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_refused = True
            raise HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, as JSON; 431 when the head was too large."""
        if self._head_refused:
            self.logger.warning("request head over %d bytes refused", self.max_head_bytes)
            status, reason = b"431 Request Header Fields Too Large", error_body(
                "HEADERS_TOO_LARGE", f"request line and headers larger than {self.max_head_bytes} bytes")
        else:
            status, reason = b"400 Bad Request", error_body("BAD_REQUEST", "malformed HTTP request")
        body = json.dumps(reason).encode()
        head = [b"HTTP/1.1 " + status]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json", b"content-length: " + str(len(body)).encode(),
                 b"connection: close"]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
