"""python-binance's AsyncClient, pointed at the right URLs and telling each caller its own headers.

python-binance keeps the last response in one shared ``.response`` attribute, which concurrent
calls overwrite. The rate budget needs each call's ``X-MBX-USED-WEIGHT-*`` and ``Retry-After``,
so ``capture()`` puts a fresh ``CallInfo`` in a context variable that ``_handle_response`` fills:
every asyncio task sees only its own. The session is guarded (app/exchange/window.py): no request
leaves while the exchange's Retry-After window runs, whichever call made it.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import aiohttp
from binance import AsyncClient

from app.config import Mode, Settings
from app.exchange.window import PauseWindow, guarded_session_params

_CALL: contextvars.ContextVar["CallInfo | None"] = contextvars.ContextVar("binance_call", default=None)
_KEPT_HEADERS = ("x-mbx-used-weight", "x-mbx-order-count", "retry-after")


@dataclass(slots=True)
class CallInfo:
    """What one call's response said besides its body."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def record(self, response: aiohttp.ClientResponse) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith(_KEPT_HEADERS)}

    def counters(self, prefix: str) -> dict[str, int]:
        """Header counters by interval suffix, e.g. {"1m": 35} for X-MBX-USED-WEIGHT-1M."""
        out = {}
        for name, value in self.headers.items():
            if name.startswith(prefix + "-") and value.strip().isdigit():
                out[name[len(prefix) + 1:]] = int(value)
        return out


def base_urls(settings: Settings) -> tuple[str, str]:
    """(spot REST root ending in /api, USD-M REST root ending in /fapi) for the mode and overrides."""
    if settings.execution_mode is Mode.LIVE:
        spot, futures = AsyncClient.API_URL.format("", "com"), AsyncClient.FUTURES_URL.format("com")
    else:
        spot, futures = AsyncClient.API_TESTNET_URL, AsyncClient.FUTURES_TESTNET_URL
    if settings.binance_base_url:
        spot = _with_suffix(settings.binance_base_url, "/api")
    if settings.binance_futures_base_url:
        futures = _with_suffix(settings.binance_futures_base_url, "/fapi")
    return spot, futures


def _with_suffix(url: str, suffix: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(suffix) else url + suffix


class BinanceHttp(AsyncClient):
    """AsyncClient with our URLs, recvWindow, timeout and guarded session; construct inside the running
    event loop."""

    def __init__(self, settings: Settings, window: PauseWindow) -> None:
        key, secret = settings.binance_api_key, settings.binance_api_secret
        super().__init__(
            api_key=key.get_secret_value() if key else None,
            api_secret=secret.get_secret_value() if secret else None,
            session_params=guarded_session_params(window),
        )
        self.API_URL, self.FUTURES_URL = base_urls(settings)
        self.REQUEST_RECVWINDOW = settings.binance_recv_window_ms
        self.REQUEST_TIMEOUT = settings.binance_request_timeout_s

    def __repr__(self) -> str:
        return f"BinanceHttp(spot={self.API_URL!r}, futures={self.FUTURES_URL!r})"

    @contextmanager
    def capture(self) -> Iterator[CallInfo]:
        """Collect the status and rate-limit headers of the call made inside this block."""
        info = CallInfo()
        token = _CALL.set(info)
        try:
            yield info
        finally:
            _CALL.reset(token)

    async def _handle_response(self, response: aiohttp.ClientResponse) -> Any:
        # python-binance offers no per-call hook for response headers, and every REST response passes
        # here; test_client.py's concurrent-headers test fails if a release stops calling it.
        info = _CALL.get()
        if info is not None:
            info.record(response)
        return await super()._handle_response(response)
