"""The fake Binance's user-data stream (USD-M): listenKeys and a WebSocket that pushes order events.

As Binance documents it for USD-M: ``POST /fapi/v1/listenKey`` creates a key (or returns the active
one, extended), ``PUT`` keeps it alive for 60 minutes (-1125 for a key that does not exist),
``DELETE`` closes it; events arrive on ``/ws/<listenKey>``; an expired key sends
``listenKeyExpired`` and the stream stops. Every change the fake exchange makes to an order
(placed, filled, canceled here or "elsewhere", modified) is pushed as ``ORDER_TRADE_UPDATE``; a fill
also as ``ACCOUNT_UPDATE`` (reason ORDER, the USDT balance; no positions), and ``funding(symbol,
amount)`` charges a funding fee (``ACCOUNT_UPDATE`` reason FUNDING_FEE; the symbol's position in
``P`` only when ``isolated``, as Binance does).

Faults (``fake.user_stream``): ``drop()`` closes every socket; ``silent = True`` sends nothing (the
events are lost, as on a dead socket); ``expire()`` expires the key; ``duplicate = True`` sends each
event twice; ``hold()`` then ``release(reverse=True)`` delivers held events out of order.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes.binance_exchange import USDM, BinanceError, FakeOrder, _fmt

KEY_LIFETIME_S = 3600.0


def order_trade_update(order: FakeOrder, execution_type: str, trade: dict[str, Any] | None,
                       now_ms: int) -> dict[str, Any]:
    """An ``ORDER_TRADE_UPDATE`` event in Binance's documented shape."""
    average = order.cum_quote / order.executed if order.executed else Decimal(0)
    body = {"s": order.symbol, "c": order.client_order_id, "S": order.side, "o": order.type,
            "f": order.time_in_force, "q": _fmt(order.orig_qty), "p": _fmt(order.price), "ap": _fmt(average),
            "sp": "0", "x": execution_type, "X": order.status, "i": order.order_id,
            "l": _fmt(trade["qty"]) if trade else "0", "z": _fmt(order.executed),
            "L": _fmt(trade["price"]) if trade else "0", "n": _fmt(trade["commission"]) if trade else "0",
            "N": trade["asset"] if trade else None, "T": now_ms, "t": trade["id"] if trade else 0,
            "b": "0", "a": "0", "m": bool(trade and trade["maker"]), "R": order.reduce_only, "wt": "CONTRACT_PRICE",
            "ot": order.type, "ps": "BOTH", "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "NONE",
            "pm": "NONE", "gtd": 0}
    return {"e": "ORDER_TRADE_UPDATE", "E": now_ms, "T": now_ms, "o": body}


def account_update(reason: str, wallet: Decimal, change: Decimal, now_ms: int,
                   positions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ``ACCOUNT_UPDATE`` event in Binance's documented shape, for the USDT balance."""
    balance = {"a": "USDT", "wb": _fmt(wallet), "cw": _fmt(wallet), "bc": _fmt(change)}
    return {"e": "ACCOUNT_UPDATE", "E": now_ms, "T": now_ms, "a": {"m": reason, "B": [balance], "P": positions or []}}


class FakeUserStream:
    def __init__(self, fake: Any) -> None:
        self._fake = fake
        self.keys: dict[str, float] = {}          # listenKey -> monotonic expiry
        self.sockets: list[web.WebSocketResponse] = []
        self.sent: list[dict[str, Any]] = []      # every event pushed, in order
        self.silent = False
        self.duplicate = False
        self.connections = 0
        self._held: list[dict[str, Any]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()
        app.router.add_get("/ws/{listen_key}", self._socket)
        self._fake.exchange.on_change = self._changed

    # -- listenKey REST --------------------------------------------------------------------------
    def create(self) -> dict[str, str]:
        live = [k for k, until in self.keys.items() if until > time.monotonic()]
        key = live[0] if live else secrets.token_hex(32)
        self.keys[key] = time.monotonic() + KEY_LIFETIME_S
        return {"listenKey": key}

    def keep_alive(self, key: str) -> dict[str, Any]:
        if self.keys.get(key, 0) <= time.monotonic():
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        self.keys[key] = time.monotonic() + KEY_LIFETIME_S
        return {"listenKey": key}

    def close(self, key: str) -> dict[str, Any]:
        self.keys.pop(key, None)
        return {}

    # -- faults ------------------------------------------------------------------------------------
    def drop(self) -> None:
        self._soon(self.close_sockets())

    def expire(self) -> None:
        """Every key expires: ``listenKeyExpired`` on each socket, then the sockets close."""
        self.keys.clear()
        now = self._fake.server_time_ms()
        self._soon(self._expire_all({"e": "listenKeyExpired", "E": now, "listenKey": "expired"}))

    def funding(self, symbol: str, amount: str | Decimal, isolated: bool = True) -> None:
        """A funding fee on ``symbol``: ``amount`` < 0 paid, > 0 received; the USDT balance moves by it."""
        change = Decimal(str(amount))
        wallet = self._fake.exchange.balances[USDM]
        wallet["USDT"] += change
        position = [{"s": symbol, "pa": "0", "ep": "0", "bep": "0", "cr": "0", "up": "0", "mt": "isolated",
                     "iw": "0", "ps": "BOTH"}] if isolated else []
        self._queue(account_update("FUNDING_FEE", wallet["USDT"], change, self._fake.server_time_ms(), position))

    def hold(self) -> None:
        self._held = []

    def release(self, reverse: bool = False) -> None:
        held, self._held = self._held or [], None
        for event in reversed(held) if reverse else held:
            self._push(event)

    # -- internals -----------------------------------------------------------------------------------
    def _changed(self, order: FakeOrder, execution_type: str, trade: dict[str, Any] | None) -> None:
        if order.market != USDM:
            return
        now = self._fake.server_time_ms()
        self._queue(order_trade_update(order, execution_type, trade, now))
        if trade is not None:
            self._queue(account_update("ORDER", self._fake.exchange.balances[USDM]["USDT"], Decimal(0), now))

    def _queue(self, event: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._push(event)

    def _push(self, event: dict[str, Any]) -> None:
        if self.silent:
            return
        for _ in range(2 if self.duplicate else 1):
            self.sent.append(event)
            self._soon(self._send_all(orjson.dumps(event).decode()))

    def _soon(self, coro: Any) -> None:
        """Run on the fake's loop, from it or from a test's thread."""
        assert self._loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._loop.create_task(coro)
        else:
            asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _send_all(self, text: str) -> None:
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(text)

    async def close_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    async def _expire_all(self, event: dict[str, Any]) -> None:
        await self._send_all(orjson.dumps(event).decode())
        await self.close_sockets()

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["listen_key"]
        if self.keys.get(key, 0) <= time.monotonic():
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        try:
            async for message in ws:
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            self.sockets.remove(ws)
        return ws
