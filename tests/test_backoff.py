from __future__ import annotations

import asyncio
import time

from app.backoff import Backoff


def test_delays_double_from_base_up_to_cap_with_equal_jitter() -> None:
    backoff = Backoff(asyncio.Event(), base=0.1, cap=1.0)
    for ceiling in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0):
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_a_success_starts_again_from_base() -> None:
    backoff = Backoff(asyncio.Event(), base=0.1, cap=5.0)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert 0.05 <= backoff.next_delay() <= 0.1


async def test_stopping_cuts_the_wait_short() -> None:
    stopping = asyncio.Event()
    backoff = Backoff(stopping, base=30.0, cap=30.0)
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    started = time.monotonic()
    await backoff.sleep(backoff.next_delay())
    assert time.monotonic() - started < 5.0
