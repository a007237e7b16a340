"""A local OTLP/HTTP endpoint that accepts and discards spans: python -m bench.otlp_sink PORT.

It counts what it was sent (``GET /stats``: requests and bytes) so that a run shows each traced
variant really exported, and how much: equal encodings give equal bytes per traced intent.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATS = {"requests": 0, "bytes": 0}
_LOCK = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector answers: one connection per exporter

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        size = len(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with _LOCK:
            STATS["requests"] += 1
            STATS["bytes"] += size
        self._reply(b"", "application/x-protobuf")

    def do_GET(self) -> None:  # noqa: N802
        with _LOCK:
            body = json.dumps(STATS).encode()
        self._reply(body, "application/json")

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
