"""Binance USD-M's user-data stream: a listenKey, a WebSocket on it, its order events as ``PushedChange``s
and its ``ACCOUNT_UPDATE``s as ``AccountChange``s.

Binance documents for USD-M: ``POST /fapi/v1/listenKey`` (weight 1) makes a key valid 60 minutes,
``PUT`` (weight 1) extends it, ``DELETE`` closes it (for the whole account: the service never sends
it); events arrive on ``<stream url>/ws/<listenKey>``;
a connection lasts at most 24 hours; an expired key sends ``listenKeyExpired`` and nothing more.
The listenKey calls go through the transport like every request (the shared budget, never inside a
Retry-After window or a ban), and the WebSocket is not opened inside one either. The WebSocket has
its own aiohttp session: it is a long-lived connection, not a REST call.

Spot is not followed this way yet: Binance deprecated spot's REST listenKey in favour of the
WebSocket API's ``userDataStream.subscribe.signature``; the pure mapping (stream_events.py) already
reads spot's ``executionReport``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable
from urllib.parse import urlsplit

import aiohttp
import orjson

from app.config import Market, Mode, Settings
from app.exchange.base import AccountChange, PushedChange, StreamClosed, UserStream
from app.exchange.binance.account_events import FUNDING_FEE, parse_account
from app.exchange.binance.errors import ExchangeFailure, Kind
from app.exchange.binance.stream_events import EXPIRED_KEY, OrderEvent, event_type, parse, venue_update
from app.exchange.binance.transport import Transport
from app.exchange.filters import SymbolRules
from app.orders.machine import Order, VenueUpdate

log = logging.getLogger(__name__)
LIVE_URL, TESTNET_URL = "wss://fstream.binance.com", "wss://fstream.binancefuture.com"
_ENDS = ("CANCELED", "EXPIRED", "TRADE_PREVENTION")
_ENDED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


def stream_url(settings: Settings) -> str:
    """The WebSocket root: the setting; else, when the REST root is replaced (a proxy, a test server),
    the same host; else Binance's for the mode."""
    if settings.binance_futures_stream_url:
        return settings.binance_futures_stream_url.rstrip("/")
    if settings.binance_futures_base_url:
        parts = urlsplit(settings.binance_futures_base_url)
        return f"{ {'https': 'wss', 'http': 'ws'}.get(parts.scheme, parts.scheme)}://{parts.netloc}"
    return LIVE_URL if settings.execution_mode is Mode.LIVE else TESTNET_URL


class BinanceUserStream(UserStream):
    def __init__(self, settings: Settings, transport: Transport,
                 rules: Callable[[str], SymbolRules | None]) -> None:
        self._url = stream_url(settings)
        self._t = transport
        self._rules = rules
        self._key: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        api = self._t.api
        assert api.listen_key_create is not None
        await self.close()
        try:
            self._key = await self._t.call(api.listen_key_create, self._t.deadline())
        except ExchangeFailure as failure:
            raise StreamClosed(f"listenKey not created: {failure.error.message}") from None
        await self._outside_window()
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(f"{self._url}/ws/{self._key}", heartbeat=30.0,
                                                      timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            await self.close()
            raise StreamClosed(f"user-data WebSocket not opened: {type(exc).__name__}") from None

    async def keep_alive(self) -> None:
        api = self._t.api
        assert api.listen_key_keepalive is not None
        try:
            await self._t.call(api.listen_key_keepalive, self._t.deadline(), listenKey=self._key)
        except ExchangeFailure as failure:
            error = failure.error
            if error.kind in (Kind.RATE_LIMIT, Kind.BANNED) and error.http_status is None:
                # refused here, unsent (a 429/418 window or no budget): the key lives an hour, the
                # stream costs no weight, so keep it and try again at the next keep-alive
                log.warning("listenKey keep-alive not sent: %s; trying again later", error.message)
                return
            raise StreamClosed(f"listenKey keep-alive refused: {error.message}") from None

    async def receive(self, timeout_s: float) -> list[PushedChange | AccountChange]:
        if self._ws is None:
            raise StreamClosed("not connected")
        try:
            message = await self._ws.receive(timeout=timeout_s)
        except asyncio.TimeoutError:
            return []
        if message.type in _ENDED:
            raise StreamClosed(f"the WebSocket closed ({message.type.name})")
        if message.type is not aiohttp.WSMsgType.TEXT:
            return []
        try:
            doc = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            log.warning("user-data stream: a message that is not JSON was ignored")
            return []
        if not isinstance(doc, dict):
            return []
        if event_type(doc) == EXPIRED_KEY:
            raise StreamClosed("the listenKey expired")
        event = parse(doc)
        if event is None:
            return _account_change(doc)
        ends = event.execution_type in _ENDS and event.status not in ("FILLED", "NEW", "PARTIALLY_FILLED")
        return [PushedChange(event.client_order_id, self._decider(event), ends_order=ends)]

    async def close(self) -> None:
        """Close this replica's connection. The listenKey is not deleted: USD-M has one active key per
        account, so a DELETE would end the stream of the replica that took over (and of any other
        program on the account); unused, it lapses an hour after its last keep-alive."""
        ws, session = self._ws, self._session
        self._key = self._ws = self._session = None
        if ws is not None:
            await ws.close()
        if session is not None:
            await session.close()

    def _decider(self, event: OrderEvent) -> Callable[[Order], VenueUpdate | None]:
        def update_for(order: Order) -> VenueUpdate | None:
            rules = self._rules(event.symbol)
            base, quote = (rules.base_asset, rules.quote_asset) if rules else ("", "")
            update, unvalued = venue_update(event, order, Market.USDM, base, quote)
            if unvalued:
                log.warning("order %s: commission in %s not valued in %s; left out of its fee",
                            event.client_order_id, ", ".join(unvalued), quote)
            return update
        return update_for

    async def _outside_window(self) -> None:
        while (pause := self._t.state.window.current()) is not None:
            await asyncio.sleep(pause.remaining_s)


def _account_change(doc: dict) -> list[PushedChange | AccountChange]:
    """An ACCOUNT_UPDATE as an ``AccountChange``; its positions are not taken (reconciliation compares
    positions with the books), only logged."""
    account = parse_account(doc)
    if account is None:
        return []
    if account.positions:
        log.debug("user-data stream: %s positions %s", account.reason,
                  ", ".join(f"{p.symbol} {p.amount}" for p in account.positions))
    funding = tuple((b.asset, b.change) for b in account.balances if b.change and account.reason == FUNDING_FEE)
    return [AccountChange(account.event_ms, account.reason, tuple((b.asset, b.wallet) for b in account.balances),
                          funding, account.funding_symbol)]
