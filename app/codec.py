"""Reading Redis replies (redis-py returns bytes: no decode_responses; the service works in str), and
writing times the way every published document does."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any


def text(value: Any) -> str:
    """A reply value as str; bytes are decoded as UTF-8 (strictly: bad bytes raise)."""
    return value.decode() if isinstance(value, bytes) else str(value)


@lru_cache(maxsize=64)
def iso_ms(ts: float) -> str:
    """UTC ISO 8601 to the millisecond (``2026-01-01T00:00:00.000Z``); remembered, as every document
    of a batch has the same times."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
