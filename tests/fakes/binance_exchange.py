"""The matching side of the fake Binance: symbols, filters, balances, orders. No HTTP here.

Behaves like Binance where the adapter depends on it (shapes from the spot rest-api.md and the
USD-M "New Order"/"Query Order" pages): MARKET orders fill at the touch, a marketable LIMIT fills
at the touch, other LIMITs rest (GTC) or expire (IOC/FOK); filters reject with spot -1013
"Filter failure: …" or the USD-M codes; a client order id may be reused only once the earlier
order is no longer open; balances and margin are checked (-2010 / -2019). Resting orders fill
when a test says so (``fill``), are canceled (-2011 when not open), modified on USD-M and
cancel-replaced on spot with the documented error codes. Every fill is a trade with its commission
(USD-M in USDT; spot in the asset received, or in BNB when ``spot_fee_asset="BNB"``, valued at
BNBUSDT's price as Binance's BNB discount is), listed by ``trades_of`` in the shapes of USD-M
``GET /fapi/v1/userTrades`` and spot ``GET /api/v3/myTrades``. A test can also act as someone else
on the account: ``cancel_elsewhere`` (a cancel from Binance's web page), ``forget`` (an order
Binance no longer knows: -2013 to every look-up), ``place_elsewhere`` (another client's order) and
``liquidate`` (Binance closing a USD-M position with an ``autoclose-`` order). Positions and balances
are derived from the fills (binance_account.py).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Mapping

from tests.fakes.binance_account import position

SPOT, USDM = "spot", "usdm"
OPEN = ("NEW", "PARTIALLY_FILLED")


class BinanceError(Exception):
    """An error response: HTTP status and Binance's {"code", "msg"}."""

    def __init__(self, http_status: int, code: int, msg: str, headers: Mapping[str, str] | None = None,
                 data: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{http_status} {code} {msg}")
        self.http_status, self.code, self.msg = http_status, code, msg
        self.headers = dict(headers or {})
        self.data = data  # cancelReplace failures carry what each half did


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base: str
    price: str
    spot_tick: str
    spot_step: str
    futures_tick: str
    futures_step: str
    futures_min_notional: str = "5"
    spot_min_notional: str = "5"


DEFAULT_SYMBOLS = (
    SymbolSpec("BTCUSDT", "BTC", "65000", "0.01", "0.00001", "0.1", "0.001", "100"),
    SymbolSpec("ETHUSDT", "ETH", "3500", "0.01", "0.0001", "0.01", "0.001", "20"),
    SymbolSpec("BNBUSDT", "BNB", "600", "0.01", "0.001", "0.01", "0.01"),
    SymbolSpec("SOLUSDT", "SOL", "150", "0.01", "0.001", "0.01", "1"),
    SymbolSpec("XRPUSDT", "XRP", "0.6", "0.0001", "0.1", "0.0001", "0.1"),
    SymbolSpec("ADAUSDT", "ADA", "0.45", "0.0001", "0.1", "0.0001", "1"),
    SymbolSpec("DOGEUSDT", "DOGE", "0.15", "0.00001", "1", "0.00001", "1"),
    SymbolSpec("AVAXUSDT", "AVAX", "35", "0.01", "0.01", "0.001", "1"),
    SymbolSpec("DOTUSDT", "DOT", "7", "0.001", "0.01", "0.001", "0.1"),
    SymbolSpec("MATICUSDT", "MATIC", "0.7", "0.0001", "0.1", "0.0001", "1"),
)


@dataclass
class FakeOrder:
    market: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    trades: list[dict[str, Any]] = field(default_factory=list)  # id, price, qty, commission, asset, maker, time
    update_ms: int = 0                 # Binance's updateTime: the last fill, cancel or modify
    forgotten: bool = False            # Binance no longer knows it (``forget``)


class FakeExchange:
    def __init__(self, symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS, spot_fee: str = "0.001",
                 futures_fee: str = "0.0004", spot_fee_asset: str | None = None) -> None:
        self.specs = {s.symbol: s for s in symbols}
        self.prices = {s.symbol: Decimal(s.price) for s in symbols}
        self.fees = {SPOT: Decimal(spot_fee), USDM: Decimal(futures_fee)}
        self.spot_fee_asset = spot_fee_asset  # None: the asset received; "BNB": paid in BNB
        self.balances: dict[str, dict[str, Decimal]] = {
            SPOT: {"USDT": Decimal(1_000_000), **{s.base: Decimal(1000) for s in symbols}},
            USDM: {"USDT": Decimal(1_000_000)},
        }
        self.leverage: dict[str, int] = {}
        self.orders: list[FakeOrder] = []
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.clock: Callable[[], int] = lambda: int(time.time() * 1000)  # the server's time (ms)
        # told of every change to an order: (order, execution type, the trade for a TRADE)
        self.on_change: Callable[[FakeOrder, str, dict[str, Any] | None], None] = lambda order, kind, trade: None

    # -- market data ----------------------------------------------------------------------------
    def tick(self, market: str, symbol: str) -> Decimal:
        spec = self._spec(symbol)
        return Decimal(spec.spot_tick if market == SPOT else spec.futures_tick)

    def touch(self, market: str, symbol: str) -> tuple[Decimal, Decimal]:
        """(bid, ask): one tick either side of the symbol's price."""
        price, tick = self.prices[symbol], self.tick(market, symbol)
        return price - tick, price + tick

    def symbol_info(self, market: str, symbol: str) -> dict[str, Any]:
        s = self._spec(symbol)
        tick, step = (s.spot_tick, s.spot_step) if market == SPOT else (s.futures_tick, s.futures_step)
        filters: list[dict[str, Any]] = [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000000", "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0" if market == SPOT else step, "maxQty": "100000",
             "stepSize": "0" if market == SPOT else step},
        ]
        if market == SPOT:
            filters.append({"filterType": "NOTIONAL", "minNotional": s.spot_min_notional, "applyMinToMarket": True,
                            "maxNotional": "9000000", "applyMaxToMarket": False, "avgPriceMins": 5})
            return {"symbol": symbol, "status": "TRADING", "baseAsset": s.base, "quoteAsset": "USDT",
                    "isSpotTradingAllowed": True, "orderTypes": ["LIMIT", "MARKET"], "filters": filters}
        filters.append({"filterType": "MIN_NOTIONAL", "notional": s.futures_min_notional})
        return {"symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "status": "TRADING",
                "baseAsset": s.base, "quoteAsset": "USDT", "marginAsset": "USDT", "filters": filters,
                "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"]}

    # -- orders ---------------------------------------------------------------------------------
    def find(self, market: str, symbol: str, client_order_id: str | None = None,
             order_id: int | None = None) -> FakeOrder | None:
        for order in reversed(self.orders):
            if order.market == market and order.symbol == symbol and not order.forgotten and \
                    (order.client_order_id == client_order_id or order.order_id == order_id):
                return order
        return None

    def open_orders(self, market: str, symbol: str | None = None) -> list[FakeOrder]:
        """GET openOrders: the open orders of one symbol, or of every symbol."""
        if symbol is not None:
            self._known(symbol)
        return [o for o in self.orders if o.market == market and o.status in OPEN and not o.forgotten
                and (symbol is None or o.symbol == symbol)]

    def place(self, market: str, p: Mapping[str, str], now_ms: int) -> FakeOrder:
        symbol = self._known(p.get("symbol"))
        side, kind = _need(p, "side"), _need(p, "type")
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1117, "Invalid side.")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = _decimal(_need(p, "quantity"), "quantity")
        price = _decimal(_need(p, "price"), "price") if kind == "LIMIT" else Decimal(0)
        tif = _need(p, "timeInForce") if kind == "LIMIT" else "GTC"
        coid = p.get("newClientOrderId") or f"fake-{next(self._ids)}"
        existing = self.find(market, symbol, coid)
        if existing is not None and existing.status in OPEN:
            raise BinanceError(400, -2010, "Duplicate order sent.") if market == SPOT else \
                BinanceError(400, -4116, "ClientOrderId is duplicated.")
        bid, ask = self.touch(market, symbol)
        touch = ask if side == "BUY" else bid
        self._check_filters(market, symbol, qty, price if kind == "LIMIT" else touch, kind)
        marketable = kind == "MARKET" or (price >= ask if side == "BUY" else price <= bid)
        self._check_funds(market, symbol, side, qty, touch if marketable else price)
        order = FakeOrder(market, symbol, next(self._ids), coid, side, kind, tif, qty, price,
                          p.get("reduceOnly", "false").lower() == "true", now_ms, update_ms=now_ms)
        self.orders.append(order)
        self.on_change(order, "NEW", None)
        if marketable:
            self._fill(order, touch, qty)
        elif tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
            self.on_change(order, "EXPIRED", None)
        return order

    def _fill(self, order: FakeOrder, price: Decimal, qty: Decimal, maker: bool = False) -> None:
        quote = qty * price
        fee_rate = self.fees[order.market]
        base = self._spec(order.symbol).base
        order.executed += qty
        order.cum_quote += quote
        order.status = "FILLED" if order.executed == order.orig_qty else "PARTIALLY_FILLED"
        order.update_ms = self.clock()
        if order.market == USDM:
            fee, fee_asset = quote * fee_rate, "USDT"
            self.balances[USDM]["USDT"] -= fee
        else:
            fee, fee_asset = self._spot_fee(order, base, qty, quote * fee_rate)
            wallet = self.balances[SPOT]
            sign = 1 if order.side == "BUY" else -1
            wallet[base] = wallet.get(base, Decimal(0)) + sign * qty
            wallet["USDT"] -= sign * quote
            wallet[fee_asset] = wallet.get(fee_asset, Decimal(0)) - fee
        order.trades.append({"id": next(self._trade_ids), "price": price, "qty": qty, "commission": fee,
                             "asset": fee_asset, "maker": maker, "time": order.time_ms})
        self.on_change(order, "TRADE", order.trades[-1])

    def _spot_fee(self, order: FakeOrder, base: str, qty: Decimal, quote_fee: Decimal) -> tuple[Decimal, str]:
        if self.spot_fee_asset == "BNB":
            return (quote_fee / self.prices["BNBUSDT"]).quantize(Decimal("1e-8")), "BNB"
        return (qty * self.fees[SPOT], base) if order.side == "BUY" else (quote_fee, "USDT")

    def trades_of(self, market: str, symbol: str, order_id: int | None = None) -> list[dict[str, Any]]:
        """The account's trades on ``symbol`` (of one order when ``order_id``), in Binance's documented shape."""
        out = []
        for order in self.orders:
            if order.market != market or order.symbol != symbol or order_id not in (None, order.order_id):
                continue
            for t in order.trades:
                common = {"symbol": symbol, "id": t["id"], "orderId": order.order_id, "price": _fmt(t["price"]),
                          "qty": _fmt(t["qty"]), "quoteQty": _fmt(t["price"] * t["qty"]),
                          "commission": _fmt(t["commission"]), "commissionAsset": t["asset"], "time": t["time"]}
                if market == USDM:
                    out.append(common | {"side": order.side, "buyer": order.side == "BUY", "maker": t["maker"],
                                         "positionSide": "BOTH", "realizedPnl": "0", "marginAsset": "USDT"})
                else:
                    out.append(common | {"orderListId": -1, "isBuyer": order.side == "BUY", "isMaker": t["maker"],
                                         "isBestMatch": True})
        return sorted(out, key=lambda t: t["id"])

    # -- resting orders: fills, cancel, modify (USD-M), cancel-replace (spot) ---------------------
    def fill(self, client_order_id: str, qty: Decimal | str | None = None) -> FakeOrder:
        """Fill a resting order at its limit price (as a maker), ``qty`` of it or all that is left."""
        order = next(o for o in reversed(self.orders) if o.client_order_id == client_order_id and o.status in OPEN)
        self._fill(order, order.price, Decimal(qty) if qty is not None else order.orig_qty - order.executed, True)
        return order

    def cancel(self, market: str, p: Mapping[str, str]) -> FakeOrder:
        """DELETE order: -2011 unless an open order has this orderId / origClientOrderId."""
        order = self._open(market, p, p.get("origClientOrderId"), p.get("orderId"))
        if order is None:
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.status, order.update_ms = "CANCELED", self.clock()
        self.on_change(order, "CANCELED", None)
        return order

    def cancel_elsewhere(self, client_order_id: str) -> FakeOrder:
        """Cancel an open order as Binance's web page (or another client) would: the service is not told."""
        order = next(o for o in reversed(self.orders) if o.client_order_id == client_order_id and o.status in OPEN)
        order.status, order.update_ms = "CANCELED", self.clock()
        self.on_change(order, "CANCELED", None)
        return order

    def place_elsewhere(self, market: str, symbol: str, side: str, qty: Decimal | str,
                        price: Decimal | str | None = None, client_order_id: str | None = None) -> FakeOrder:
        """An order from another client on the same account (Binance's web page names its orders
        ``web_…``): MARKET without a price, else LIMIT GTC; the service is not told."""
        p = {"symbol": symbol, "side": side, "type": "MARKET" if price is None else "LIMIT",
             "quantity": str(qty), "newClientOrderId": client_order_id or f"web_{next(self._ids)}"}
        if price is not None:
            p.update(price=str(price), timeInForce="GTC")
        return self.place(market, p, self.clock())

    def liquidate(self, symbol: str, qty: Decimal | str | None = None) -> FakeOrder:
        """Binance closes (part of) the USD-M position itself: a filled ``autoclose-…`` order at the price."""
        held = position(self, symbol)[0]
        amount = Decimal(qty) if qty is not None else abs(held)
        now = self.clock()
        order = FakeOrder(USDM, symbol, next(self._ids), f"autoclose-{now}", "SELL" if held > 0 else "BUY",
                          "LIMIT", "IOC", amount, self.prices[symbol], True, now, update_ms=now)
        self._fill(order, self.prices[symbol], amount)
        self.orders.append(order)
        return order

    def forget(self, client_order_id: str) -> None:
        """Binance no longer knows these orders: absent from openOrders, -2013 to a look-up."""
        for order in self.orders:
            if order.client_order_id == client_order_id:
                order.forgotten = True

    def modify(self, p: Mapping[str, str]) -> FakeOrder:
        """USD-M PUT order (LIMIT only; quantity and price both required; -5027 when nothing changes).
        A partially filled order modified to a quantity at or below what it executed is canceled."""
        qty, price = _decimal(_need(p, "quantity"), "quantity"), _decimal(_need(p, "price"), "price")
        _need(p, "side")
        order = self._open(USDM, p, p.get("origClientOrderId"), p.get("orderId"))
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        if order.type != "LIMIT":
            raise BinanceError(400, -5025, "Only limit order is supported.")
        if (qty, price) == (order.orig_qty, order.price):
            raise BinanceError(400, -5027, "No need to modify the order.")
        self._check_filters(USDM, order.symbol, qty, price, "LIMIT")
        if qty <= order.executed:
            order.status = "CANCELED"
            self.on_change(order, "CANCELED", None)
            return order
        order.orig_qty, order.price, order.update_ms = qty, price, self.clock()
        order.status = "PARTIALLY_FILLED" if order.executed else "NEW"
        self.on_change(order, "AMENDMENT", None)
        bid, ask = self.touch(USDM, order.symbol)
        if price >= ask if order.side == "BUY" else price <= bid:
            self._fill(order, ask if order.side == "BUY" else bid, qty - order.executed)
        return order

    def cancel_replace(self, p: Mapping[str, str], now_ms: int) -> tuple[FakeOrder, FakeOrder]:
        """Spot cancelReplace in STOP_ON_FAILURE mode: (canceled, new). The new order's filters are
        checked first; a failed cancel is -2022 (nothing attempted), a refused new order after the
        cancel is HTTP 409 -2021 (the old order stays canceled)."""
        if _need(p, "cancelReplaceMode") != "STOP_ON_FAILURE":
            raise BinanceError(400, -1102, "Only STOP_ON_FAILURE is simulated.")
        symbol = self._known(p.get("symbol"))
        self._check_filters(SPOT, symbol, _decimal(_need(p, "quantity"), "quantity"),
                            _decimal(_need(p, "price"), "price"), _need(p, "type"))
        old = self._open(SPOT, p, p.get("cancelOrigClientOrderId"), p.get("cancelOrderId"))
        restriction = {"ONLY_NEW": "NEW", "ONLY_PARTIALLY_FILLED": "PARTIALLY_FILLED"}.get(
            p.get("cancelRestrictions", ""))
        refusal = None
        if old is None:
            refusal = {"code": -2011, "msg": "Unknown order sent."}
        elif restriction and old.status != restriction:
            refusal = {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."}
        if refusal is not None:
            raise BinanceError(400, -2022, "Order cancel-replace failed.", data={
                "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": refusal,
                "newOrderResponse": None})
        assert old is not None
        old.status, old.update_ms = "CANCELED", now_ms
        self.on_change(old, "CANCELED", None)
        try:
            new = self.place(SPOT, p, now_ms)
        except BinanceError as err:
            raise BinanceError(409, -2021, "Order cancel-replace partially failed.", data={
                "cancelResult": "SUCCESS", "newOrderResult": "FAILURE",
                "cancelResponse": cancel_document(old, p.get("cancelNewClientOrderId"), now_ms),
                "newOrderResponse": {"code": err.code, "msg": err.msg}}) from None
        return old, new

    def _open(self, market: str, p: Mapping[str, str], client_order_id: str | None,
              order_id: str | None) -> FakeOrder | None:
        order = self.find(market, self._known(p.get("symbol")), client_order_id,
                          int(order_id) if order_id and order_id.isdigit() else None)
        return order if order is not None and order.status in OPEN else None

    def _check_filters(self, market: str, symbol: str, qty: Decimal, price: Decimal, kind: str) -> None:
        s = self._spec(symbol)
        tick, step = self.tick(market, symbol), Decimal(s.spot_step if market == SPOT else s.futures_step)
        minimum = Decimal(s.spot_min_notional if market == SPOT else s.futures_min_notional)
        if kind == "LIMIT" and price % tick != 0:
            _filter_failure(market, "PRICE_FILTER", -4014, "Price not increased by tick size.")
        if qty < step:
            _filter_failure(market, "LOT_SIZE", -4004, "Quantity less than min quantity.")
        if qty % step != 0:
            _filter_failure(market, "LOT_SIZE", -1111, "Precision is over the maximum defined for this asset.")
        if qty * price < minimum:
            _filter_failure(market, "NOTIONAL", -4164, f"Order's notional must be no smaller than {minimum} "
                                                       f"(unless you choose reduce only).")

    def _check_funds(self, market: str, symbol: str, side: str, qty: Decimal, price: Decimal) -> None:
        if market == USDM:
            margin = qty * price / self.leverage.get(symbol, 20)
            if margin > self.balances[USDM]["USDT"]:
                raise BinanceError(400, -2019, "Margin is insufficient.")
            return
        asset, needed = ("USDT", qty * price) if side == "BUY" else (self._spec(symbol).base, qty)
        if needed > self.balances[SPOT].get(asset, Decimal(0)):
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")

    def _known(self, symbol: str | None) -> str:
        if not symbol or symbol not in self.specs:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return symbol

    def _spec(self, symbol: str) -> SymbolSpec:
        return self.specs[self._known(symbol)]


def order_document(order: FakeOrder, response_type: str, now_ms: int) -> dict[str, Any]:
    """The JSON Binance returns for this order: spot ACK/RESULT/FULL or query, USD-M ACK/RESULT or query."""
    if order.market == USDM:
        acked = response_type == "ACK"
        executed = Decimal(0) if acked else order.executed
        quote = Decimal(0) if acked else order.cum_quote
        avg = quote / executed if executed else Decimal(0)
        return {"orderId": order.order_id, "symbol": order.symbol, "status": "NEW" if acked else order.status,
                "clientOrderId": order.client_order_id, "price": _fmt(order.price), "avgPrice": _fmt(avg),
                "origQty": _fmt(order.orig_qty), "executedQty": _fmt(executed), "cumQty": _fmt(executed),
                "cumQuote": _fmt(quote), "timeInForce": order.time_in_force, "type": order.type,
                "reduceOnly": order.reduce_only, "closePosition": False, "side": order.side,
                "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "origType": order.type, "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0, "time": order.time_ms, "updateTime": order.update_ms or now_ms}
    doc: dict[str, Any] = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                           "clientOrderId": order.client_order_id, "transactTime": order.time_ms}
    if response_type == "ACK":
        return doc
    doc.update(price=_fmt(order.price), origQty=_fmt(order.orig_qty), executedQty=_fmt(order.executed),
               origQuoteOrderQty="0.00000000", cummulativeQuoteQty=_fmt(order.cum_quote), status=order.status,
               timeInForce=order.time_in_force, type=order.type, side=order.side, workingTime=order.time_ms,
               selfTradePreventionMode="EXPIRE_MAKER")
    if response_type == "FULL":
        doc["fills"] = [{"price": _fmt(t["price"]), "qty": _fmt(t["qty"]), "commission": _fmt(t["commission"]),
                         "commissionAsset": t["asset"], "tradeId": t["id"]} for t in order.trades]
    if response_type == "QUERY":
        del doc["transactTime"]
        doc.update(stopPrice="0.00000000", icebergQty="0.00000000", time=order.time_ms,
                   updateTime=order.update_ms or now_ms,
                   isWorking=order.status in OPEN)
    return doc


def cancel_document(order: FakeOrder, cancel_client_order_id: str | None, now_ms: int) -> dict[str, Any]:
    """A DELETE order answer: USD-M gives the order; spot the order under the cancel's own clientOrderId."""
    if order.market == USDM:
        return order_document(order, "RESULT", now_ms)
    doc = order_document(order, "RESULT", now_ms)
    for name in ("workingTime", "transactTime"):
        doc.pop(name, None)
    return {"symbol": order.symbol, "origClientOrderId": order.client_order_id, "orderId": order.order_id,
            "orderListId": -1, "clientOrderId": cancel_client_order_id or f"cancel-{order.order_id}",
            "transactTime": now_ms, **{k: v for k, v in doc.items()
                                       if k not in ("symbol", "orderId", "orderListId", "clientOrderId")}}


def _filter_failure(market: str, filter_name: str, futures_code: int, futures_msg: str) -> None:
    if market == SPOT:
        raise BinanceError(400, -1013, f"Filter failure: {filter_name}")
    raise BinanceError(400, futures_code, futures_msg)


def _need(p: Mapping[str, str], name: str) -> str:
    value = p.get(name)
    if not value:
        raise BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _decimal(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.") from None
    if not number.is_finite() or number <= 0:
        raise BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return number


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.00000001'), rounding=ROUND_HALF_UP):f}"
