"""What differs between spot (/api/v3) and USD-M futures (/fapi): calls, request weights, order shapes.

Weights are Binance's published per-endpoint costs (spot rest-api.md; USD-M "Request Weight"
lines); the rate budget charges them before each call so replicas never overspend together.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Awaitable, Callable, Mapping

from app.config import Market
from app.exchange.base import ExecutionReport, OrderRequest
from app.exchange.binance.client import BinanceHttp
from app.exchange.binance.reports import futures_report, spot_report
from app.orders.machine import Order


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    weight: int
    orders: int = 0
    signed: bool = False


@dataclass(frozen=True, slots=True)
class MarketApi:
    market: Market
    time: Endpoint
    exchange_info: Endpoint
    book_ticker: Endpoint
    order_create: Endpoint
    order_query: Endpoint
    order_cancel: Endpoint
    order_amend: Endpoint  # USD-M modify (PUT /fapi/v1/order); spot cancel-replace (POST /api/v3/order/cancelReplace)
    account: Endpoint
    user_trades: Endpoint  # the order's trades with their commissions: USD-M userTrades, spot myTrades
    open_orders: Endpoint      # GET openOrders for one symbol (the polling backstop)
    open_orders_all: Endpoint  # the same without a symbol: every symbol's, at a higher weight
    leverage: Endpoint | None
    position_risk: Endpoint | None  # USD-M GET /fapi/v3/positionRisk (reconciliation); spot has no positions
    methods: Mapping[str, str]
    response_type: str
    report: Callable[[Mapping[str, Any]], ExecutionReport]
    # the user-data stream's listenKey (USD-M; spot's REST listenKey is deprecated: docs/binance.md)
    listen_key_create: Endpoint | None = None
    listen_key_keepalive: Endpoint | None = None

    def method(self, client: BinanceHttp, endpoint: Endpoint) -> Callable[..., Awaitable[Any]]:
        return getattr(client, self.methods[endpoint.name])

    def order_params(self, request: OrderRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side,
            "type": request.order_type,
            "quantity": _plain(request.quantity),
            "newClientOrderId": request.client_order_id,
            "newOrderRespType": self.response_type,
        }
        if request.order_type == "LIMIT" and request.price is not None:
            params.update(price=_plain(request.price), timeInForce=request.time_in_force)
        if request.reduce_only and self.market is Market.USDM:
            params["reduceOnly"] = "true"
        return params

    def amend_params(self, order: Order, price: Decimal, quantity: Decimal, replacement: str) -> dict[str, Any]:
        """USD-M modify needs both price and the new total quantity. Spot replaces the order: the new
        one is for what is left of ``quantity`` after the fills booked so far, and while nothing has
        filled the cancel half only succeeds if that is still so (ONLY_NEW), so no fill slips in
        between the service's read and the replacement."""
        if self.market is Market.USDM:
            return {"symbol": order.symbol, "origClientOrderId": order.client_order_id, "side": order.side,
                    "quantity": _plain(quantity), "price": _plain(price)}
        params = {"symbol": order.symbol, "side": order.side, "type": "LIMIT", "timeInForce": "GTC",
                  "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": order.client_order_id,
                  "newClientOrderId": replacement, "quantity": _plain(quantity - order.executed_qty),
                  "price": _plain(price), "newOrderRespType": self.response_type}
        if order.executed_qty == 0:
            params["cancelRestrictions"] = "ONLY_NEW"
        return params


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


SPOT = MarketApi(
    market=Market.SPOT,
    time=Endpoint("time", 1),
    exchange_info=Endpoint("exchange_info", 20),
    book_ticker=Endpoint("book_ticker", 2),
    order_create=Endpoint("order_create", 1, orders=1, signed=True),
    order_query=Endpoint("order_query", 4, signed=True),
    order_cancel=Endpoint("order_cancel", 1, signed=True),
    order_amend=Endpoint("order_amend", 1, orders=1, signed=True),
    account=Endpoint("account", 20, signed=True),
    user_trades=Endpoint("user_trades", 20, signed=True),
    open_orders=Endpoint("open_orders", 6, signed=True),
    open_orders_all=Endpoint("open_orders_all", 80, signed=True),
    leverage=None,
    position_risk=None,
    methods={"time": "get_server_time", "exchange_info": "get_exchange_info",
             "book_ticker": "get_orderbook_ticker", "order_create": "create_order",
             "order_query": "get_order", "order_cancel": "cancel_order", "order_amend": "cancel_replace_order",
             "account": "get_account", "user_trades": "get_my_trades", "open_orders": "get_open_orders",
             "open_orders_all": "get_open_orders"},
    response_type="FULL",
    report=spot_report,
)

USDM = MarketApi(
    market=Market.USDM,
    time=Endpoint("time", 1),
    exchange_info=Endpoint("exchange_info", 1),
    book_ticker=Endpoint("book_ticker", 2),
    order_create=Endpoint("order_create", 0, orders=1, signed=True),
    order_query=Endpoint("order_query", 1, signed=True),
    order_cancel=Endpoint("order_cancel", 1, signed=True),
    order_amend=Endpoint("order_amend", 0, orders=1, signed=True),
    account=Endpoint("account", 5, signed=True),
    user_trades=Endpoint("user_trades", 5, signed=True),
    open_orders=Endpoint("open_orders", 1, signed=True),
    open_orders_all=Endpoint("open_orders_all", 40, signed=True),
    leverage=Endpoint("leverage", 1, signed=True),
    position_risk=Endpoint("position_risk", 5, signed=True),
    methods={"time": "futures_time", "exchange_info": "futures_exchange_info",
             "book_ticker": "futures_orderbook_ticker", "order_create": "futures_create_order",
             "order_query": "futures_get_order", "order_cancel": "futures_cancel_order",
             "order_amend": "futures_modify_order", "account": "futures_account",
             "leverage": "futures_change_leverage", "user_trades": "futures_account_trades",
             "open_orders": "futures_get_open_orders", "open_orders_all": "futures_get_open_orders",
             "position_risk": "futures_position_information",
             "listen_key_create": "futures_stream_get_listen_key", "listen_key_keepalive": "futures_stream_keepalive"},

    # RESULT makes a MARKET order answer with its final fill; the default ACK says only NEW.
    response_type="RESULT",
    report=futures_report,
    listen_key_create=Endpoint("listen_key_create", 1),
    listen_key_keepalive=Endpoint("listen_key_keepalive", 1),
)


def market_api(market: Market) -> MarketApi:
    return SPOT if market is Market.SPOT else USDM
