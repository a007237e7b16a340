"""gate.lua's verdicts before the limits: answered entries, executed intent ids, in-flight ids, resumes, prechecks."""

from __future__ import annotations

import redis.asyncio as aioredis
import pytest

from app.config import Settings
from app.keys import Keys
from app.models.result import Reason
from app.risk.checks import Denial, Limits
from app.state.gate import Admission, Candidate, Gate, Verdict
from app.state.scripts import Scripts
from tests.utils.reservations import sides

LIMITS = Limits(frozenset({"BTCUSDT"}), 10, 1_000.0, 5_000.0, 0, 30.0, 1e9, 5.0)


class Admit:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys.from_settings(settings)
        self.gate = Gate(self.keys, Scripts.register(redis), LIMITS, ttl_s=600)

    async def __call__(self, intent_id: str = "i-1", entry_id: str = "1-0", delta: float = 0.005,
                       precheck: Denial | None = None, check_done: bool = False, side: str = "BUY") -> Admission:
        [admission] = await self.gate.admit([Candidate(intent_id=intent_id, entry_id=entry_id, symbol="BTCUSDT",
                                                       side=side, delta_qty=delta, price=100_000.0, reduce_only=False,
                                                       client_order_id=f"ex-{intent_id}", precheck=precheck,
                                                       check_done=check_done, mark=99_990.0)], minute=1)
        return admission


@pytest.fixture
def admit(aredis: aioredis.Redis, settings: Settings) -> Admit:
    return Admit(aredis, settings)


async def reserved(admit: Admit) -> tuple[float, float]:
    """(BUY, SELL) reserved on BTCUSDT."""
    return sides(await admit.redis.hgetall(admit.keys.reserved))


async def test_first_sight_is_admitted_and_reserved(admit: Admit) -> None:
    assert await admit() == Admission(Verdict.OK, admitted=True)
    assert await reserved(admit) == (0.005, 0)
    assert ttl_ok(await admit.redis.ttl(admit.keys.order("i-1")))


def ttl_ok(ttl: int) -> bool:
    return 0 < ttl <= 600


async def test_the_same_entry_again_resumes_with_what_was_reserved(admit: Admit) -> None:
    await admit()
    again = await admit()
    assert again == Admission(Verdict.RESUME, admitted=True, reason="", message="", reserved_qty=0.005)
    assert await reserved(admit) == (0.005, 0), "a resume must not reserve twice"


async def test_another_entry_with_the_same_intent_id_in_flight_is_busy(admit: Admit) -> None:
    await admit()
    assert await admit(entry_id="2-0") == Admission(Verdict.BUSY)
    assert await reserved(admit) == (0.005, 0)


async def test_an_executed_intent_id_is_a_duplicate(admit: Admit) -> None:
    await admit.redis.hset(admit.keys.order("i-1"), mapping={"state": "DONE", "result": '{"status": "FILLED"}'})
    assert await admit(entry_id="9-0") == Admission(Verdict.DUP, result_json='{"status": "FILLED"}')
    assert await reserved(admit) == (0, 0)


async def test_an_answered_entry_is_done_when_redelivered(admit: Admit) -> None:
    await admit.redis.set(admit.keys.entry_done("1-0"), "1700000000000-5")
    assert await admit(check_done=True) == Admission(Verdict.DONE, result_id="1700000000000-5")
    assert await admit.redis.exists(admit.keys.order("i-1")) == 0


async def test_the_answered_marker_is_only_read_when_asked(admit: Admit) -> None:
    await admit.redis.set(admit.keys.entry_done("1-0"), "1700000000000-5")
    assert (await admit(check_done=False)).verdict is Verdict.OK


async def test_a_precheck_denial_is_recorded_and_reserves_nothing(admit: Admit) -> None:
    denial = Denial(Reason.LEVERAGE_LIMIT, "leverage 20x is above the 10x limit")
    assert await admit(precheck=denial) == Admission(Verdict.DENY, reason="LEVERAGE_LIMIT",
                                                     message="leverage 20x is above the 10x limit")
    assert await reserved(admit) == (0, 0)
    assert not await admit.redis.sismember(admit.keys.inflight, "i-1")
    # redelivered before its result was published: resumes as the same denial
    assert await admit() == Admission(Verdict.RESUME, admitted=False, reason="LEVERAGE_LIMIT",
                                      message="leverage 20x is above the 10x limit", reserved_qty=0.0)


async def test_a_limit_denial_resumes_as_the_same_denial(admit: Admit) -> None:
    first = await admit(delta=1.0)
    assert (first.verdict, first.reason) == (Verdict.DENY, "POSITION_LIMIT")
    again = await admit(delta=1.0)
    assert (again.verdict, again.admitted, again.reason, again.message) == \
        (Verdict.RESUME, False, "POSITION_LIMIT", first.message)


async def test_a_sell_reserves_on_its_own_side(admit: Admit) -> None:
    await admit(intent_id="b-1", entry_id="1-0", delta=0.005)
    assert await admit(intent_id="s-1", entry_id="2-0", delta=-0.004, side="SELL") == Admission(Verdict.OK,
                                                                                                 admitted=True)
    assert await reserved(admit) == (0.005, 0.004), "the sides are never netted"
    again = await admit(intent_id="s-1", entry_id="2-0", delta=-0.004, side="SELL")
    assert (again.verdict, again.reserved_qty) == (Verdict.RESUME, -0.004)


async def test_an_amend_shrinking_an_order_is_admitted_and_reserves_nothing(admit: Admit) -> None:
    """Until the venue confirms the smaller order, the old one may still fill: its side keeps it all."""
    await admit(intent_id="b-1", entry_id="1-0", delta=0.005)
    assert (await admit(intent_id="a-1", entry_id="2-0", delta=-0.003)).admitted
    assert await reserved(admit) == (0.005, 0)
    again = await admit(intent_id="a-1", entry_id="2-0", delta=-0.003)
    assert (again.verdict, again.reserved_qty) == (Verdict.RESUME, 0.0)
