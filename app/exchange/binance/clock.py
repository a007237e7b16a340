"""Binance's clock as seen from here: signed requests carry its time, not ours.

Binance rejects a signed request (-1021) when its timestamp is more than 1000 ms ahead of the
server or older than recvWindow. The offset is measured at start-up and again after a -1021,
taking the midpoint of the round trip as the moment the server read its clock.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Mapping


class ServerClock:
    def __init__(self) -> None:
        self.offset_ms = 0
        self.synced = False

    def now_ms(self) -> int:
        """Binance's current time in epoch milliseconds, as best known."""
        return int(time.time() * 1000) + self.offset_ms

    async def sync(self, fetch_time: Callable[[], Awaitable[Mapping[str, Any]]]) -> int:
        """Measure the offset with one /time call; returns it in milliseconds."""
        sent = time.time() * 1000
        answer = await fetch_time()
        received = time.time() * 1000
        self.offset_ms = int(int(answer["serverTime"]) - (sent + received) / 2)
        self.synced = True
        return self.offset_ms
