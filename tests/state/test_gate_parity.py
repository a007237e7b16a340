"""gate.lua must agree with its specification, checks.evaluate_book, on every book.

Hypothesis generates a book (trading state, the symbol's position and reservations per side, other
symbols' positions, reservations and marks, this minute's order count), an order (its side and
side-signed delta, which may shrink its side as an AMEND does) and limits. The book is written into
the real Redis keys the gate reads, gate.lua runs through Gate.admit, and evaluate_book sees the
same numbers: verdict, reason and message must agree, and an admitted order must reserve exactly
what Candidate.reservation says, on its side. Quantities and prices lie on grids so limits are
often hit exactly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import redis.asyncio as aioredis
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.keys import Keys, reserved_field
from app.models.trading import TradingState
from app.risk.checks import Book, Limits, evaluate_book
from app.state.gate import Candidate, Gate, Verdict
from app.state.scripts import Scripts

SYMBOL = "BTCUSDT"
OTHERS = ("ETHUSDT", "SOLUSDT", "XRPUSDT")
MINUTE = 29_453_760
_ids = itertools.count(1)

quantities = st.integers(-40, 40).map(lambda k: k / 1000)  # multiples of 0.001, exact when printed
reservations = st.integers(0, 40).map(lambda k: k / 2000)  # per side, never negative
prices = st.sampled_from([25_000.0, 50_000.0, 100_000.0, 99_999.9, 3_000.0, 0.5])


@dataclass(frozen=True)
class Other:
    position: float | None
    buys: float | None
    sells: float | None
    mark: float


@dataclass(frozen=True)
class Case:
    state: TradingState | None  # None: the key is absent, which means ACTIVE
    position: float | None
    buys: float | None   # the symbol's reservation per side; None: the field is absent
    sells: float | None
    others: dict[str, Other]
    orders_this_minute: int
    side: str
    delta: float
    price: float
    reduce_only: bool
    limits: Limits
    mark: float | None = None  # the symbol's own last mark: exposure must use the order's price instead
    market: float = 90_000.0   # the market price the order was valued against: the gate records it as the mark

    def book(self) -> Book:
        return Book(
            trading_state=self.state or TradingState.ACTIVE,
            position_qty=self.position or 0.0,
            reserved_buy=self.buys or 0.0,
            reserved_sell=self.sells or 0.0,
            others={s: (o.position or 0.0, o.buys or 0.0, o.sells or 0.0, o.mark) for s, o in self.others.items()},
            orders_this_minute=self.orders_this_minute,
        )


others = st.dictionaries(
    st.sampled_from(OTHERS),
    st.builds(Other, st.none() | quantities.map(lambda q: q * 100), st.none() | reservations.map(lambda q: q * 10),
              st.none() | reservations.map(lambda q: q * 10), st.sampled_from([3_000.0, 150.0, 2.5, 0.0])),
    max_size=3,
)
limits = st.builds(
    Limits,
    allowed_symbols=st.just(frozenset({SYMBOL, *OTHERS})),
    max_leverage=st.just(10),
    max_position_usd=st.sampled_from([500.0, 1_000.0, 2_000.0, 2_500.0, 1e9]),
    max_total_exposure_usd=st.sampled_from([1_000.0, 2_000.0, 3_000.0, 5_000.0, 1e12]),
    max_orders_per_minute=st.sampled_from([0, 1, 3, 5]),
    max_intent_age_s=st.just(30.0),
    max_order_notional_usd=st.just(1e9),
    max_clock_skew_s=st.just(5.0),
)
cases = st.builds(
    Case,
    state=st.sampled_from([None, TradingState.ACTIVE, None, TradingState.ACTIVE, TradingState.REDUCING,
                           TradingState.HALTED]),
    position=st.none() | quantities,
    buys=st.none() | reservations,
    sells=st.none() | reservations,
    others=others,
    orders_this_minute=st.integers(0, 6),
    side=st.sampled_from(["BUY", "SELL"]),
    delta=quantities,
    price=prices,
    reduce_only=st.sampled_from([False, False, False, True]),
    limits=limits,
    mark=prices | st.none(),
    market=prices,
)


async def write_book(redis: aioredis.Redis, keys: Keys, case: Case) -> None:
    await redis.flushdb()
    pipe = redis.pipeline(transaction=False)
    if case.state is not None:
        pipe.set(keys.trading_state, case.state.value)
    if case.position is not None:
        pipe.hset(keys.risk_positions, SYMBOL, repr(case.position))
    for symbol, buys, sells in [(SYMBOL, case.buys, case.sells),
                                *((s, o.buys, o.sells) for s, o in case.others.items())]:
        if buys is not None:
            pipe.hset(keys.reserved, reserved_field(symbol, "BUY"), repr(buys))
        if sells is not None:
            pipe.hset(keys.reserved, reserved_field(symbol, "SELL"), repr(sells))
    for symbol, other in case.others.items():
        if other.position is not None:
            pipe.hset(keys.risk_positions, symbol, repr(other.position))
        pipe.hset(keys.marks, symbol, repr(other.mark))
    if case.mark is not None:
        pipe.hset(keys.marks, SYMBOL, repr(case.mark))
    if case.orders_this_minute:
        pipe.set(keys.order_rate(MINUTE), case.orders_this_minute)
    await pipe.execute()


async def hget_float(redis: aioredis.Redis, key: str, field: str) -> float:
    value = await redis.hget(key, field)
    return float(value) if value is not None else 0.0


def limits_of(position: float, exposure: float, rate: int = 0) -> Limits:
    return Limits(frozenset({SYMBOL, *OTHERS}), 10, position, exposure, rate, 30.0, 1e9, 5.0)


def boundary(delta: float, position: float | None = None, state: TradingState | None = None,
             others: dict[str, Other] | None = None, orders: int = 0, reduce_only: bool = False,
             lim: Limits = limits_of(1_000.0, 1_500.0), buys: float | None = None, sells: float | None = None,
             side: str | None = None) -> Case:
    return Case(state, position, buys, sells, others or {}, orders, side or ("SELL" if delta < 0 else "BUY"), delta,
                100_000.0, reduce_only, lim, 50_000.0)


ETH_600 = {"ETHUSDT": Other(0.2, None, None, 3_000.0)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
@example(case=boundary(0.01))                                   # exactly the position limit: admitted
@example(case=boundary(0.0101))                                 # just above: POSITION_LIMIT
@example(case=boundary(-0.01, position=0.005))                  # flip to a 500 USD short: admitted
@example(case=boundary(0.009, others=ETH_600))                  # exposure exactly 1,500: admitted
@example(case=boundary(0.0091, others=ETH_600))                 # 1,510: EXPOSURE_LIMIT
@example(case=boundary(0.004, position=0.005, others=ETH_600))  # 1,500 at the order's price, not the old mark
@example(case=boundary(-0.01, position=0.03, state=TradingState.REDUCING))  # above limits, reducing: admitted
@example(case=boundary(-0.03, position=0.03, reduce_only=True))  # closes exactly: admitted
@example(case=boundary(0.001, orders=3, lim=limits_of(1_000.0, 1_500.0, 3)))  # rate at the limit: denied
@example(case=boundary(0.001, orders=2, lim=limits_of(1_000.0, 1_500.0, 3)))  # one left: admitted
@example(case=boundary(0.0))                                     # a zero delta changes nothing: admitted
@example(case=Case(None, None, None, None, {"SOLUSDT": Other(0.11, None, None, 2.5),
                                           "ETHUSDT": Other(0.02, None, None, 2.5)}, 0,
                   "SELL", -0.04, 25_000.0, False, limits_of(1e9, 1_000.0)))  # 1000.325 in another order: .32 or .33
# netting: an open BUY and an open SELL of 0.01 net to 0, but either may fill alone
@example(case=boundary(0.001, buys=0.01, sells=0.01))           # 1,100 USD long in the worst case: POSITION_LIMIT
@example(case=boundary(-0.001, buys=0.01, sells=0.01))          # 1,100 USD short likewise
@example(case=boundary(0.001, sells=0.01))                       # the SELL alone leaves the BUY its room: admitted
@example(case=boundary(-0.004, position=0.005, sells=0.005, reduce_only=True))  # open SELLs close it: REDUCE_ONLY
@example(case=boundary(-0.004, buys=0.005, reduce_only=True))    # an open BUY may never fill: REDUCE_ONLY
@example(case=boundary(-0.005, buys=0.02, state=TradingState.REDUCING, side="BUY"))  # an AMEND shrinking a BUY
@example(case=boundary(0.005, others={"ETHUSDT": Other(0.1, 0.1, 0.3, 3_000.0)}))   # ETH 600 either way: 1,100
@example(case=boundary(0.009, others={"ETHUSDT": Other(0.1, 0.1, 0.4, 3_000.0)}))   # ETH short 0.3 worst: 1,800
async def test_gate_lua_agrees_with_evaluate_book(aredis: aioredis.Redis, settings: Settings, case: Case) -> None:
    keys = Keys.from_settings(settings)
    gate = Gate(keys, Scripts.register(aredis), case.limits, ttl_s=600)
    await write_book(aredis, keys, case)
    field = reserved_field(SYMBOL, case.side)
    other_field = reserved_field(SYMBOL, "SELL" if case.side == "BUY" else "BUY")
    reserved_before = await hget_float(aredis, keys.reserved, field)
    other_before = await hget_float(aredis, keys.reserved, other_field)
    n = next(_ids)
    intent_id, coid = f"parity-{n}", f"ex-parity-{n}"

    candidate = Candidate(intent_id=intent_id, entry_id=f"{n}-0", symbol=SYMBOL, side=case.side,
                          delta_qty=case.delta, price=case.price, reduce_only=case.reduce_only, client_order_id=coid,
                          precheck=None, check_done=False, mark=case.market)
    [admission] = await gate.admit([candidate], MINUTE)
    expected = evaluate_book(SYMBOL, case.side, case.delta, case.price, case.reduce_only, case.book(), case.limits)
    event(expected.reason.value if expected else "ADMITTED")

    record = {k.decode(): v.decode() for k, v in (await aredis.hgetall(keys.order(intent_id))).items()}
    rate = int(await aredis.get(keys.order_rate(MINUTE)) or 0)
    if expected is None:
        assert admission.verdict is Verdict.OK and admission.admitted, (case, admission)
        # a side's reservation only grows at admission: a shrinking AMEND is released once the venue confirms it
        reserved = abs(candidate.reservation)
        assert reserved == (abs(case.delta) if (case.delta > 0) == (case.side == "BUY") else 0.0)
        # reserve() rounds to 1e-10, as positions are
        assert abs(await hget_float(aredis, keys.reserved, field) - (reserved_before + reserved)) < 1e-12
        assert float(record["reserved_qty"]) == candidate.reservation
        assert (record["state"], record["decision"]) == ("OPEN", "OK")
        assert float(await aredis.hget(keys.marks, SYMBOL)) == case.market
        assert await aredis.sismember(keys.inflight, intent_id)
        assert record["client_order_id"] == coid
        assert rate == (case.orders_this_minute + 1 if case.limits.max_orders_per_minute else case.orders_this_minute)
    else:
        assert admission.verdict is Verdict.DENY, (case, expected)
        assert (admission.reason, admission.message) == (expected.reason.value, expected.message)
        assert await hget_float(aredis, keys.reserved, field) == reserved_before
        assert (record["state"], record["decision"], record["reason"], float(record["reserved_qty"])) == \
            ("OPEN", "DENY", expected.reason.value, 0.0)
        assert rate == case.orders_this_minute
        assert not await aredis.sismember(keys.inflight, intent_id)
    assert await hget_float(aredis, keys.reserved, other_field) == other_before, "the other side never moves"
