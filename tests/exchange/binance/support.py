"""Small builders shared by the Binance tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.exchange.base import OrderRequest


def order(coid: str, symbol: str = "BTCUSDT", side: str = "BUY", quantity: str = "0.01", **kw: Any) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, quantity=Decimal(quantity), order_type=kw.pop("order_type", "MARKET"),
                        client_order_id=coid, **kw)
