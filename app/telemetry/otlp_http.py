"""Sending encoded OTLP requests over HTTP, on requests' public API with a session of our own.

Spans arrive here already encoded (app/telemetry/otlp.py), which the SDK's exporter has no public
way to send: it encodes its own. So this is the sending half on its own: the same OTEL_EXPORTER_OTLP_*
variables read as the SDK reads them (the TRACES_ one first, timeouts in seconds as the Python SDK
takes them), and the OTLP specification's retries: 429/502/503/504 and connection failures, with
exponential backoff or the server's Retry-After, within the timeout.
"""

from __future__ import annotations

import gzip
import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime

import requests

from opentelemetry.util.re import parse_env_headers

from app import SERVICE_NAME, __version__

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 6
_COMPRESS = {"none": None, "gzip": gzip.compress, "deflate": zlib.compress}


class HttpConfigError(ValueError):
    """An OTEL_EXPORTER_OTLP_* variable cannot be used; the message names it."""


@dataclass(frozen=True)
class HttpConfig:
    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str = "none"
    certificate: str | None = None          # CA bundle to verify the collector with
    client_certificate: str | None = None   # mTLS
    client_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], endpoint: str) -> HttpConfig:
        def read(name: str) -> str:
            return (env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}") or "").strip()

        timeout = read("TIMEOUT") or "10"
        try:
            timeout_s = float(timeout)
            if not timeout_s > 0:
                raise ValueError(timeout)
        except ValueError:
            raise HttpConfigError(f"OTEL_EXPORTER_OTLP_TIMEOUT: {timeout!r} is not a positive number "
                                  "of seconds") from None
        compression = read("COMPRESSION").lower() or "none"
        if compression not in _COMPRESS:
            raise HttpConfigError(f"OTEL_EXPORTER_OTLP_COMPRESSION: {compression!r} is not one of "
                                  f"{', '.join(_COMPRESS)}")
        return cls(endpoint, parse_env_headers(read("HEADERS"), liberal=True), timeout_s, compression,
                   read("CERTIFICATE") or None, read("CLIENT_CERTIFICATE") or None, read("CLIENT_KEY") or None)


class OtlpHttpSender:
    """POSTs one serialized ``ExportTraceServiceRequest`` at a time (not thread-safe: one sender)."""

    def __init__(self, config: HttpConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self._session = session or requests.Session()
        self._session.headers.update({"Content-Type": "application/x-protobuf",
                                      "User-Agent": f"{SERVICE_NAME}/{__version__}", **config.headers})
        if config.compression != "none":
            self._session.headers["Content-Encoding"] = config.compression
        if config.certificate:
            self._session.verify = config.certificate
        if config.client_certificate:
            self._session.cert = ((config.client_certificate, config.client_key) if config.client_key
                                  else config.client_certificate)
        self._closed = threading.Event()

    def send(self, body: bytes) -> bool:
        """True once the collector took the request; failures are logged here."""
        compress = _COMPRESS[self.config.compression]
        data = compress(body) if compress else body
        deadline = time.monotonic() + self.config.timeout_s
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = self._session.post(self.config.endpoint, data=data,
                                              timeout=max(deadline - time.monotonic(), 0.001))
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem: object = exc
                # A pooled connection the collector closed fails at once: the first retry is immediate.
                backoff = 0.0 if attempt == 0 else _backoff(attempt)
            except requests.RequestException as exc:
                log.error("span export failed: %s", exc)
                return False
            else:
                if response.status_code < 400:
                    return True
                problem = f"HTTP {response.status_code} {response.reason}"
                if response.status_code not in RETRYABLE:
                    log.error("span export refused: %s", problem)
                    return False
                backoff = _retry_after(response.headers.get("Retry-After"))
                backoff = _backoff(attempt) if backoff is None else backoff
            if attempt + 1 == MAX_ATTEMPTS or backoff > deadline - time.monotonic():
                log.error("span export failed after %d attempts: %s", attempt + 1, problem)
                return False
            log.warning("span export: %s, retrying in %.2f s", problem, backoff)
            if self._closed.wait(backoff):
                return False
        return False

    def close(self) -> None:
        """Stop waiting between retries and close the session's connections."""
        self._closed.set()
        self._session.close()


def _backoff(attempt: int) -> float:
    return 2 ** attempt * random.uniform(0.8, 1.2)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None
