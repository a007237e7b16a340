"""A fake Binance REST server on loopback (aiohttp) for spot (/api/v3) and USD-M futures (/fapi).

It behaves like Binance where a client can tell: signed endpoints need ``X-MBX-APIKEY`` (-2014 /
-2015, HTTP 401) and an HMAC-SHA256 signature over query string + body (-1022), and a timestamp
inside recvWindow and at most 1000 ms ahead (-1021); errors are ``{"code", "msg"}``; every response
carries ``X-MBX-USED-WEIGHT-*`` (orders ``X-MBX-ORDER-COUNT-*``); exceeding a ``rateLimits`` window
gives 429 with Retry-After, and any request inside a Retry-After window gives 418 and a ban.

Use::

    async with FakeBinance() as fake:                 # or: with FakeBinance().in_thread() as fake:
        settings = load_settings(..., binance_base_url=fake.url, binance_futures_base_url=fake.url,
                                 binance_api_key=fake.api_key, binance_api_secret=fake.api_secret)
        fake.faults.fail_after_create = 1             # see Faults
        fake.throttle(retry_after_s=1)                # next request: 429, then 418 if not respected
        fake.orders_for(client_order_id)              # what exists; fake.requests: what arrived
        fake.exchange.fill(client_order_id, qty)      # a resting order fills (partly) at its limit price
        fake.exchange.cancel_elsewhere(client_order_id)  # canceled from Binance's web page
        fake.exchange.forget(client_order_id)         # Binance no longer knows it (-2013)
        fake.exchange.place_elsewhere(USDM, "BTCUSDT", "BUY", "0.01")  # another client's order
        fake.exchange.liquidate("BTCUSDT")            # Binance closes the position (autoclose-…)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, Mapping
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes import binance_account as account
from tests.fakes.binance_exchange import (SPOT, USDM, BinanceError, FakeExchange, FakeOrder, cancel_document,
                                          order_document)
from tests.fakes.binance_user_stream import FakeUserStream

SPOT_RATE_LIMITS = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
)
FUTURES_RATE_LIMITS = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
)
# (method, path) -> (market, request weight, signed); weights as Binance documents them.
ROUTES: Mapping[tuple[str, str], tuple[str, int, bool]] = {
    ("GET", "/api/v3/ping"): (SPOT, 1, False), ("GET", "/api/v3/time"): (SPOT, 1, False),
    ("GET", "/api/v3/exchangeInfo"): (SPOT, 20, False), ("GET", "/api/v3/ticker/bookTicker"): (SPOT, 2, False),
    ("POST", "/api/v3/order"): (SPOT, 1, True), ("GET", "/api/v3/order"): (SPOT, 4, True),
    ("GET", "/api/v3/account"): (SPOT, 20, True), ("DELETE", "/api/v3/order"): (SPOT, 1, True),
    ("POST", "/api/v3/order/cancelReplace"): (SPOT, 1, True), ("GET", "/api/v3/myTrades"): (SPOT, 20, True),
    ("GET", "/fapi/v1/ping"): (USDM, 1, False), ("GET", "/fapi/v1/time"): (USDM, 1, False),
    ("GET", "/fapi/v1/exchangeInfo"): (USDM, 1, False), ("GET", "/fapi/v1/ticker/bookTicker"): (USDM, 2, False),
    ("POST", "/fapi/v1/order"): (USDM, 0, True), ("GET", "/fapi/v1/order"): (USDM, 1, True),
    ("POST", "/fapi/v1/leverage"): (USDM, 1, True), ("GET", "/fapi/v2/account"): (USDM, 5, True),
    ("DELETE", "/fapi/v1/order"): (USDM, 1, True), ("PUT", "/fapi/v1/order"): (USDM, 0, True),
    ("GET", "/fapi/v1/userTrades"): (USDM, 5, True),
    ("GET", "/api/v3/openOrders"): (SPOT, 6, True), ("GET", "/fapi/v1/openOrders"): (USDM, 1, True),
    ("GET", "/fapi/v3/positionRisk"): (USDM, 5, True),
    ("POST", "/fapi/v1/listenKey"): (USDM, 1, False), ("PUT", "/fapi/v1/listenKey"): (USDM, 1, False),
    ("DELETE", "/fapi/v1/listenKey"): (USDM, 1, False),
}
# USER_STREAM endpoints: the API key, no signature.
KEY_ONLY = frozenset({"/fapi/v1/listenKey"})
# Endpoints that cost more without a ``symbol`` (every symbol's answer).
ALL_SYMBOLS_WEIGHT: Mapping[str, int] = {"/api/v3/openOrders": 80, "/fapi/v1/openOrders": 40}
_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


@dataclass
class Faults:
    """Failures to inject; counters count down as they fire."""

    latency_s: float = 0.0            # added before every answer
    clock_skew_ms: int = 0            # the server's clock is this far ahead of the machine's
    fail_after_create: int = 0        # next N order POSTs: the order is created, the answer is HTTP fail_status
    fail_before_create: int = 0       # next N order POSTs: HTTP fail_status, no order
    fail_status: int = 503
    timeout_after_create: int = 0     # next N order POSTs: the order is created, the answer never comes
    fail_lookups: int = 0             # next N GET order: HTTP fail_status


@dataclass
class RecordedRequest:
    at: float                          # time.monotonic() on arrival
    method: str
    path: str
    market: str | None
    weight: int
    params: Mapping[str, str]          # query + body, without the signature
    status: int = 0                    # 0 until answered
    code: int | None = None


@dataclass(frozen=True)
class Window:
    """A period the fake told clients to stay away: a 429's Retry-After or a 418 ban."""

    kind: str
    start: float
    end: float


@dataclass
class _Counter:
    limit: int
    window_ms: int
    letter: str
    used: dict[int, int] = field(default_factory=dict)

    def current(self, now_ms: int) -> int:
        return self.used.get(now_ms // self.window_ms, 0)

    def add(self, now_ms: int, amount: int) -> None:
        slot = now_ms // self.window_ms
        self.used[slot] = self.used.get(slot, 0) + amount

    def header(self) -> str:
        return f"{self.window_ms // 1000 // _SECONDS[self.letter]}{self.letter[0]}"


class FakeBinance:
    def __init__(self, api_key: str = "fake-api-key-0123456789abcdef", api_secret: str = "fake-secret-9876543210fedcba",
                 *, spot_rate_limits: tuple[dict[str, Any], ...] = SPOT_RATE_LIMITS,
                 futures_rate_limits: tuple[dict[str, Any], ...] = FUTURES_RATE_LIMITS,
                 exchange: FakeExchange | None = None, ban_s: float = 2.0) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.exchange = exchange or FakeExchange()
        self.rate_limits = {SPOT: spot_rate_limits, USDM: futures_rate_limits}
        self.faults = Faults()
        self.ban_s = ban_s
        self.requests: list[RecordedRequest] = []
        self.windows: list[Window] = []
        self.external_weight = 0          # weight other programs on "the IP" use each window
        self._counters = {m: self._build_counters(limits) for m, limits in self.rate_limits.items()}
        self._throttle_next: float | None = None
        self._retry_until = 0.0
        self._ban_until = 0.0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.exchange.clock = self.server_time_ms
        self.user_stream = FakeUserStream(self)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "FakeBinance":
        self._release = asyncio.Event()
        app = web.Application()
        self.user_stream.attach(app)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._release.set()
        await self.user_stream.close_sockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeBinance":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextmanager
    def in_thread(self) -> Iterator["FakeBinance"]:
        """Serve from a background thread's event loop, for tests that run the service as a process."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=lambda: (asyncio.set_event_loop(loop), loop.run_forever()), daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    # -- faults and observations ----------------------------------------------------------------
    def throttle(self, retry_after_s: float = 1.0) -> None:
        """Answer the next request with 429 and Retry-After; a request inside that window gets 418."""
        self._throttle_next = retry_after_s

    def ban(self, seconds: float) -> None:
        """Ban the IP now: every request gets 418 with Retry-After until ``seconds`` have passed."""
        now = time.monotonic()
        self._ban_until = now + seconds
        self.windows.append(Window("418", now, self._ban_until))

    def server_time_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    def orders_for(self, client_order_id: str) -> list[FakeOrder]:
        """Every order ever created with this client order id (a correct client creates at most one)."""
        return [o for o in self.exchange.orders if o.client_order_id == client_order_id]

    def requests_in_windows(self) -> list[RecordedRequest]:
        """Requests that arrived while a Retry-After window or a ban was in force."""
        return [r for r in self.requests for w in self.windows if w.start < r.at < w.end]

    def used_weight(self, market: str) -> dict[str, list[int]]:
        """Weight accepted per fixed window of each REQUEST_WEIGHT limit, keyed like the header ("1M", "2S")."""
        return {c.header().upper(): [c.used[slot] for slot in sorted(c.used)]
                for c in self._counters[market]["REQUEST_WEIGHT"]}

    def sent(self, method: str, path: str) -> list[RecordedRequest]:
        """The requests that arrived for one endpoint, e.g. ``fake.sent("POST", "/fapi/v1/order")``."""
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- HTTP -------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        route = ROUTES.get((request.method, request.path))
        market, weight = (route[0], route[1]) if route else (None, 0)
        headers: dict[str, str] = {}
        body = await request.text()
        params = dict(parse_qsl(body)) | dict(parse_qsl(request.rel_url.raw_query_string))
        if request.path in ALL_SYMBOLS_WEIGHT and "symbol" not in params:
            weight = ALL_SYMBOLS_WEIGHT[request.path]
        record = RecordedRequest(arrived, request.method, request.path, market, weight,
                                 {k: v for k, v in params.items() if k != "signature"})
        self.requests.append(record)
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        try:
            if route is None:
                raise BinanceError(404, -1000, "Not found.")
            self._gate(arrived)
            self._charge(route[0], weight, headers)
            status, payload = 200, await self._dispatch(request, route, body, params, headers)
        except BinanceError as err:
            status, payload = err.http_status, {"code": err.code, "msg": err.msg}
            if err.data is not None:
                payload["data"] = err.data
            headers.update(err.headers)
        record.status = status
        record.code = payload.get("code") if status >= 400 and isinstance(payload, dict) else None
        return web.json_response(payload, status=status, headers=headers)

    def _gate(self, now: float) -> None:
        """Bans, Retry-After windows and an injected throttle, in Binance's order of severity."""
        if now < self._ban_until or now < self._retry_until:
            if now >= self._ban_until:
                self.ban(self.ban_s)
            left = self._ban_until - now
            until = self.server_time_ms() + int(left * 1000)
            raise BinanceError(418, -1003, f"Way too much request weight used; IP banned until {until}. "
                               "Please use WebSocket Streams for live updates to avoid bans.",
                               {"Retry-After": str(math.ceil(left))})
        if self._throttle_next is not None:
            seconds, self._throttle_next = self._throttle_next, None
            self._open_retry_window(now, seconds)
            raise BinanceError(429, -1003, "Too many requests; current limit of IP(127.0.0.1) is reached. "
                               "Please use WebSocket Streams for live updates to avoid bans.",
                               {"Retry-After": str(math.ceil(seconds))})

    def _open_retry_window(self, now: float, seconds: float) -> None:
        self._retry_until = now + seconds
        self.windows.append(Window("429", now, self._retry_until))

    def _charge(self, market: str, weight: int, headers: dict[str, str]) -> None:
        now_ms, now = self.server_time_ms(), time.monotonic()
        for counter in self._counters[market]["REQUEST_WEIGHT"]:
            if counter.current(now_ms) + self.external_weight + weight > counter.limit:
                left = (counter.window_ms - now_ms % counter.window_ms) / 1000
                self._open_retry_window(now, left)
                raise BinanceError(429, -1003, f"Too much request weight used; current limit is {counter.limit} "
                                   f"request weight per {counter.header()}. Please use WebSocket Streams for live "
                                   "updates to avoid polling the API.", {"Retry-After": str(math.ceil(left))})
        for counter in self._counters[market]["REQUEST_WEIGHT"]:
            counter.add(now_ms, weight)
            used = counter.current(now_ms) + self.external_weight
            headers[f"X-MBX-USED-WEIGHT-{counter.header().upper()}"] = str(used)

    def _count_order(self, market: str, headers: dict[str, str]) -> None:
        now_ms = self.server_time_ms()
        for counter in self._counters[market]["ORDERS"]:
            if counter.current(now_ms) + 1 > counter.limit:
                raise BinanceError(429, -1015, f"Too many new orders; current limit is {counter.limit} orders per "
                                   f"{counter.header()}.")
        for counter in self._counters[market]["ORDERS"]:
            counter.add(now_ms, 1)
            headers[f"X-MBX-ORDER-COUNT-{counter.header().upper()}"] = str(counter.current(now_ms))

    def _build_counters(self, limits: tuple[dict[str, Any], ...]) -> dict[str, list[_Counter]]:
        out: dict[str, list[_Counter]] = {"REQUEST_WEIGHT": [], "ORDERS": [], "RAW_REQUESTS": []}
        for item in limits:
            window_ms = _SECONDS[item["interval"]] * int(item["intervalNum"]) * 1000
            out[item["rateLimitType"]].append(_Counter(int(item["limit"]), window_ms, item["interval"]))
        return out

    # -- endpoints ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request, route: tuple[str, int, bool], body: str, params: dict[str, str],
                        headers: dict[str, str]) -> Any:
        market, _, signed = route
        if signed:
            self._authenticate(request, body, params)
        elif request.path in KEY_ONLY:
            self._check_key(request)
        handler = self._handlers()[request.path.rsplit("/", 1)[-1] + ":" + request.method]
        return await handler(market, params, headers)

    def _check_key(self, request: web.Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        if key != self.api_key:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def _authenticate(self, request: web.Request, body: str, params: Mapping[str, str]) -> None:
        self._check_key(request)
        total = _without_signature(request.rel_url.raw_query_string) + _without_signature(body)
        expected = hmac.new(self.api_secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "").lower()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        window = int(params.get("recvWindow", "5000"))
        if window > 60000:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        stamp, now = int(params.get("timestamp", "0")), self.server_time_ms()
        if stamp >= now + 1000:
            raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - stamp > window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _handlers(self) -> dict[str, Callable[[str, dict[str, str], dict[str, str]], Awaitable[Any]]]:
        return {"ping:GET": self._ping, "time:GET": self._time, "exchangeInfo:GET": self._exchange_info,
                "bookTicker:GET": self._book_ticker, "order:POST": self._new_order, "order:GET": self._query_order,
                "leverage:POST": self._leverage, "account:GET": self._account, "order:DELETE": self._cancel_order,
                "order:PUT": self._modify_order, "cancelReplace:POST": self._cancel_replace,
                "userTrades:GET": self._trades, "myTrades:GET": self._trades,
                "openOrders:GET": self._open_orders, "positionRisk:GET": self._position_risk,
                "listenKey:POST": self._new_listen_key,
                "listenKey:PUT": self._keep_listen_key, "listenKey:DELETE": self._close_listen_key}

    async def _new_listen_key(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return self.user_stream.create()

    async def _keep_listen_key(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return self.user_stream.keep_alive(p.get("listenKey", ""))

    async def _close_listen_key(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return self.user_stream.close(p.get("listenKey", ""))


    async def _ping(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return {}

    async def _time(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return {"serverTime": self.server_time_ms()}

    async def _exchange_info(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        symbols = [self.exchange.symbol_info(market, s) for s in self.exchange.specs]
        return {"timezone": "UTC", "serverTime": self.server_time_ms(), "rateLimits": list(self.rate_limits[market]),
                "exchangeFilters": [], "symbols": symbols}

    async def _book_ticker(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        symbol = p.get("symbol", "")
        if symbol not in self.exchange.specs:
            raise BinanceError(400, -1121, "Invalid symbol.")
        bid, ask = self.exchange.touch(market, symbol)
        doc = {"symbol": symbol, "bidPrice": f"{bid:f}", "bidQty": "10.0", "askPrice": f"{ask:f}", "askQty": "10.0"}
        return doc | ({"time": self.server_time_ms(), "lastUpdateId": 1} if market == USDM else {})

    async def _new_order(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        if self.faults.fail_before_create > 0:
            self.faults.fail_before_create -= 1
            raise BinanceError(self.faults.fail_status, -1001, "Service Unavailable.")
        self._count_order(market, h)
        order = self.exchange.place(market, p, self.server_time_ms())
        if self.faults.fail_after_create > 0:
            self.faults.fail_after_create -= 1
            raise BinanceError(self.faults.fail_status, -1007, "Timeout waiting for response from backend server. "
                               "Send status unknown; execution status unknown.")
        if self.faults.timeout_after_create > 0:
            self.faults.timeout_after_create -= 1
            await self._release.wait()
        default = "ACK" if market == USDM else "FULL"
        return order_document(order, p.get("newOrderRespType", default), self.server_time_ms())

    async def _query_order(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        if self.faults.fail_lookups > 0:
            self.faults.fail_lookups -= 1
            raise BinanceError(self.faults.fail_status, -1001, "Internal error; unable to process your request.")
        order_id = int(p["orderId"]) if p.get("orderId", "").isdigit() else None
        order = self.exchange.find(market, p.get("symbol", ""), p.get("origClientOrderId"), order_id)
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        return order_document(order, "QUERY", self.server_time_ms())

    async def _open_orders(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        now = self.server_time_ms()
        return [order_document(o, "QUERY", now) for o in self.exchange.open_orders(market, p.get("symbol"))]

    async def _cancel_order(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        order = self.exchange.cancel(market, p)
        return cancel_document(order, p.get("newClientOrderId"), self.server_time_ms())

    async def _modify_order(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        self._count_order(market, h)
        return order_document(self.exchange.modify(p), "RESULT", self.server_time_ms())

    async def _cancel_replace(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        self._count_order(market, h)
        now = self.server_time_ms()
        old, new = self.exchange.cancel_replace(p, now)
        return {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                "cancelResponse": cancel_document(old, p.get("cancelNewClientOrderId"), now),
                "newOrderResponse": order_document(new, p.get("newOrderRespType", "FULL"), now)}

    async def _trades(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        """USD-M userTrades / spot myTrades: symbol required; orderId optional."""
        symbol = p.get("symbol", "")
        if symbol not in self.exchange.specs:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return self.exchange.trades_of(market, symbol, int(p["orderId"]) if p.get("orderId", "").isdigit() else None)

    async def _leverage(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        symbol, leverage = p.get("symbol", ""), int(p.get("leverage", "0"))
        if symbol not in self.exchange.specs:
            raise BinanceError(400, -1121, "Invalid symbol.")
        if not 1 <= leverage <= 125:
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        self.exchange.leverage[symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}

    async def _account(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        return account.spot_account(self.exchange) if market == SPOT else account.futures_account(self.exchange)

    async def _position_risk(self, market: str, p: dict[str, str], h: dict[str, str]) -> Any:
        symbol = p.get("symbol")
        if symbol is not None and symbol not in self.exchange.specs:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return account.position_risk(self.exchange, symbol)


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))
