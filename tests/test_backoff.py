from __future__ import annotations

import asyncio
import time
from typing import Any

from app.backoff import Backoff, every


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


async def test_every_runs_a_step_until_stopped_and_a_failed_round_does_not_end_it(caplog: Any) -> None:
    stopping, rounds, failed = asyncio.Event(), [], []

    async def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise ConnectionError("Redis away")
        if len(rounds) == 4:
            stopping.set()

    await asyncio.wait_for(every(stopping, step, lambda: 0.01, "the job", lambda: failed.append(1)), 5)
    assert rounds == [0, 1, 2, 3] and failed == [1]
    assert "the job failed: ConnectionError: Redis away" in caplog.text
