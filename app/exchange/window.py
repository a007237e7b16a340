"""The Retry-After window, kept by this process and enforced at the wire for every HTTP request to Binance.

Binance bans an IP (HTTP 418) for requests sent after a 429 while its Retry-After runs. The shared
pause in Redis (app/exchange/ratelimit.py) tells every replica, but it is written only after the
429 has been read, and a request whose budget was taken a moment earlier may still be on its way to
the socket. So the aiohttp session itself enforces the window: ``guarded_session_params`` gives a
request class that refuses to write a request while the window is closed (``WindowClosed``, after
the connection is obtained and before a byte is sent) and a response class that closes the window
the moment a 429 or 418 status line is parsed, before any other task runs. Every request made
through such a session is covered (python-binance's calls, PAPER's public book ticker), whatever
code path made it.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from aiohttp import ClientRequest, ClientResponse
from aiohttp.connector import Connection

from app.exchange.ratelimit import BAN, THROTTLE, Pause

MIN_PAUSE_S = 1.0
REFUSED = (418, 429)


class WindowClosed(Exception):
    """A request was not sent: the exchange's Retry-After window (or ban) is still running."""

    def __init__(self, pause: Pause) -> None:
        super().__init__(f"not sent: {pause.kind} by the exchange for {pause.remaining_s:.1f}s more: {pause.message}")
        self.pause = pause


class PauseWindow:
    """Until when this process sends nothing. Never shortened; a ban is never downgraded to a throttle."""

    def __init__(self) -> None:
        self._until = 0.0
        self._kind = THROTTLE
        self._message = ""

    def hold(self, seconds: float, kind: str, message: str) -> None:
        running_ban = self._kind == BAN and self.left() > 0
        self._until = max(self._until, time.monotonic() + seconds)
        if kind == BAN or not running_ban:
            self._kind, self._message = kind, message

    def left(self) -> float:
        return max(0.0, self._until - time.monotonic())

    def current(self) -> Pause | None:
        left = self.left()
        return Pause(self._kind, self._message, left) if left > 0 else None

    def check(self) -> None:
        """Raise ``WindowClosed`` while the window runs."""
        pause = self.current()
        if pause is not None:
            raise WindowClosed(pause)

    def learn(self, status: int, headers: Mapping[str, str]) -> None:
        """Close the window for a 429/418 answer, for its Retry-After (a provisional second without one:
        the caller that reads the error code extends it)."""
        if status in REFUSED:
            wait = retry_after(headers)
            self.hold(max(MIN_PAUSE_S, wait if wait is not None else MIN_PAUSE_S), BAN if status == 418 else THROTTLE,
                      f"HTTP {status}")


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def pause_seconds(status: int, retry_after_s: float | None, code: int | None) -> float:
    """How long to send nothing after a 429/418: its Retry-After; without one, the 10 s order window for
    -1015, two minutes for a ban, else the rest of the minute."""
    if retry_after_s is not None:
        return max(MIN_PAUSE_S, retry_after_s)
    if code == -1015:
        return 10.0
    return max(MIN_PAUSE_S, 120.0 if status == 418 else 60.0 - time.time() % 60.0)


def guarded_session_params(window: PauseWindow) -> dict[str, Any]:
    """``aiohttp.ClientSession`` keyword arguments that make the session obey and learn ``window``."""

    class GuardedResponse(ClientResponse):
        async def start(self, connection: Connection) -> ClientResponse:
            response = await super().start(connection)
            window.learn(self.status, self.headers)
            return response

    class GuardedRequest(ClientRequest):
        async def send(self, conn: Connection) -> ClientResponse:
            window.check()
            return await super().send(conn)

    return {"request_class": GuardedRequest, "response_class": GuardedResponse}
