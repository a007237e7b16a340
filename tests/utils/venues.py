"""A venue that only answers what a test gives it: the base of stubs for loops that talk to a venue
(polling, reconciliation) when the test is about their side in Redis, not Binance's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.exchange.base import ExchangeAdapter, Quote


class StubVenue(ExchangeAdapter):
    """Knows no symbol's rules, quotes 100/101, places nothing and finds no order."""

    async def rules(self, symbol: str) -> None:
        return None

    async def quote(self, symbol: str) -> Quote:
        return Quote(Decimal(100), Decimal(101))

    async def place_order(self, request: Any) -> Any:
        raise NotImplementedError("a stub venue places no order")

    async def query_order(self, symbol: str, client_order_id: str) -> None:
        return None


class PatchedVenue:
    """A real venue with some of its calls replaced (``cancel_order=...``): the rest go to ``inner``."""

    def __init__(self, inner: Any, **calls: Any) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        return self._calls[name] if name in self._calls else getattr(self._inner, name)
