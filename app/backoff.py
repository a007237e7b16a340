"""The one way the service waits before trying again: redis-py's backoff policy, cut short by a stop.

Loops that must keep trying until a dependency answers (the consumer while Redis is away, start-up
while the venue is unreachable, an order's look-ups until the venue knows it) wait
``EqualJitterBackoff`` delays: doubling from ``base`` up to ``cap``, each between half and all of
that, so replicas that lost Redis together do not come back in step. Single commands are retried by redis-py itself with the same library's ``Retry``.
Periodic jobs (the order sweep, polling, reconciliation) run through ``every``, waiting with ``pause``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from redis.backoff import EqualJitterBackoff

log = logging.getLogger(__name__)


class Backoff:
    def __init__(self, stopping: asyncio.Event | None = None, *, base: float, cap: float) -> None:
        self._stopping = stopping or asyncio.Event()
        self._policy = EqualJitterBackoff(cap=cap, base=base)
        self._failures = 0

    def reset(self) -> None:
        """A success: the next failure waits ``base`` again."""
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def next_delay(self) -> float:
        delay = self._policy.compute(self._failures)
        self._failures += 1
        return delay

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if the loop is asked to stop meanwhile."""
        await pause(self._stopping, delay)


async def every(stopping: asyncio.Event, step: Callable[[], Awaitable[object]], interval: Callable[[], float],
                what: str, failed: Callable[[], None] = lambda: None) -> None:
    """Run ``step`` every ``interval()`` seconds until ``stopping``: the loop of every periodic job. A
    round that fails (Redis or a venue away) is logged (and ``failed`` counts it); the next one tries again."""
    while not stopping.is_set():
        try:
            await step()
        except Exception as exc:
            failed()
            log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
        await pause(stopping, interval())


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stopping`` is set meanwhile: the rest of every periodic loop."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        pass
