"""Reading Redis replies: redis-py returns bytes (no decode_responses), the service works in str."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """A reply value as str; bytes are decoded as UTF-8 (strictly: bad bytes raise)."""
    return value.decode() if isinstance(value, bytes) else str(value)
