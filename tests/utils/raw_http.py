"""HTTP/1.1 by hand over a loopback socket, for what an HTTP client will not send: oversized heads,
uploads cut off by the server, malformed requests. A reader thread collects the answer while the
body is still being sent, so an answer the server gives early (then closing) is not lost."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

MIB = 1 << 20


@dataclass
class Exchange:
    """What one request got: the answer's status, headers and body, and how much of the body went out."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent: int = 0               # body bytes the socket accepted before the server closed it
    closed_by_server: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


def chunked(total: int, chunk: int = MIB) -> Iterable[bytes]:
    """`total` bytes as chunked transfer encoding (the frame overhead is not counted in `sent`)."""
    piece = b"x" * chunk
    for _ in range(total // chunk):
        yield b"%x\r\n" % chunk + piece + b"\r\n"
    yield b"0\r\n\r\n"


def plain(total: int, chunk: int = MIB) -> Iterable[bytes]:
    piece = b"x" * chunk
    for _ in range(total // chunk):
        yield piece


def exchange(port: int, head: bytes, body: Iterable[bytes] = (), timeout: float = 30.0) -> Exchange:
    """Send `head` then `body` (until the server closes) and return the first answer on the connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    eof = threading.Event()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
                if _complete(bytes(received)):
                    break
            else:
                eof.set()
        except OSError:
            eof.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent, closed = 0, False
    try:
        sock.sendall(head)
        for piece in body:
            sock.sendall(piece)
            sent += len(piece)
    except OSError:             # reset or broken pipe: the server closed the connection mid-upload
        closed = True
    reader.join(timeout)
    try:
        if not closed and not eof.is_set():
            sock.settimeout(2)
            closed = sock.recv(1) == b""
    except TimeoutError:        # still open: the server waits for the next request
        pass
    except OSError:
        closed = True
    finally:
        sock.close()
    return _parse(bytes(received), sent, closed or eof.is_set())


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    return len(body) >= length


def _parse(data: bytes, sent: int, closed: bool) -> Exchange:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0]:
        return Exchange(status=0, sent=sent, closed_by_server=closed)
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", len(body)))
    return Exchange(status=int(lines[0].split()[1]), headers=headers, body=body[:length], sent=sent,
                    closed_by_server=closed)
