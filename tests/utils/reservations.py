"""The gate's reservations as tests read them: per symbol, (BUY, SELL) from the hash Keys.reserved."""

from __future__ import annotations

from collections.abc import Mapping

from app.keys import reserved_field


def sides(reserved: Mapping[bytes, bytes], symbol: str = "BTCUSDT") -> tuple[float, float]:
    """(reserved BUY, reserved SELL) of ``symbol`` from the HGETALL of ``Keys.reserved`` (0 when absent)."""
    return tuple(float(reserved.get(reserved_field(symbol, side).encode(), 0))  # type: ignore[return-value]
                 for side in ("BUY", "SELL"))


def all_zero(reserved: Mapping[bytes, bytes]) -> bool:
    """Every side of every symbol is free again (what a finished run leaves)."""
    return all(abs(float(q)) < 1e-9 for q in reserved.values())
