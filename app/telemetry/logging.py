"""JSON-lines logs: one object per line with time, level, logger, message, extra fields and trace ids.

Every line is scrubbed of the secret values handed to ``setup_logging`` (API key and secret, admin
token, Redis password — ``settings_secrets`` collects them), wherever they appear: in the message,
an extra field or an exception's text. SecretStr values render as ``**********`` anyway.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Any, Iterable
from urllib.parse import quote, unquote, urlsplit

from opentelemetry import trace
from pydantic import SecretStr

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 4
# Attributes every LogRecord has; anything else on a record came from ``extra=``, except uvicorn's
# ``color_message``: the message again with ANSI colour escapes, for its own console formatter.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
# Uvicorn installs its own handlers unless started with log_config=None; these route through ours.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # As written, URL-encoded (inside a DSN) and JSON-escaped (the line is scrubbed after encoding).
        variants = {json.dumps(v, ensure_ascii=False)[1:-1]
                    for s in secrets if len(s) >= _MIN_SECRET_LEN for v in (s, quote(s, safe=""))}
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line.setdefault(key, value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return self._scrub(json.dumps(line, default=_jsonable, ensure_ascii=False))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def setup_logging(level: str = "INFO", *, secrets: Iterable[SecretStr | str | None] = (),
                  stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (ours, uvicorn's, libraries') as JSON lines to ``stream`` (stdout).

    Replaces the root logger's handlers, so calling it twice does not duplicate lines.
    Returns the handler (tests read what it wrote).
    """
    plain = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets if s is not None]
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(plain))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    return handler


def settings_secrets(settings: Any) -> list[str]:
    """Every secret value in a settings object: its SecretStr fields and a password inside REDIS_URL."""
    found = [v.get_secret_value() for v in vars(settings).values() if isinstance(v, SecretStr)]
    redis_url = getattr(settings, "redis_url", None)
    if redis_url:
        password = urlsplit(redis_url).password
        if password:
            found += [password, unquote(password)]
    return [s for s in found if s]


def _jsonable(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
