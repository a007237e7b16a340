"""The pure risk checks: every reason, boundaries (exactly at a limit passes), REDUCING and reduce_only."""

from __future__ import annotations

import pytest

from app.config import load_settings
from app.models.result import Reason
from app.models.trading import TradingState
from app.risk.checks import Book, Denial, Limits, evaluate_book, evaluate_intent, limits_from_settings, \
    reduces, valuation_price

LIMITS = Limits(allowed_symbols=frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT"}), max_leverage=10,
                max_position_usd=1000, max_total_exposure_usd=1500, max_orders_per_minute=5, max_intent_age_s=30,
                max_order_notional_usd=100_000, max_clock_skew_s=5)
NOW = 1_767_225_600.0
PRICE = 100_000.0  # BTC: 0.01 BTC = 1,000 USD


def intent_check(symbol: str = "BTCUSDT", leverage: int = 1, created_at: float | None = NOW,
                 notional: float = 500, limits: Limits = LIMITS) -> Denial | None:
    return evaluate_intent(symbol, leverage, created_at, NOW, notional, limits)


def book_check(delta: float, book: Book = Book(), reduce_only: bool = False, price: float = PRICE,
               limits: Limits = LIMITS, symbol: str = "BTCUSDT", side: str | None = None) -> Reason | None:
    """``side`` defaults to the delta's sign's (a new order's)."""
    denial = evaluate_book(symbol, side or ("SELL" if delta < 0 else "BUY"), delta, price, reduce_only, book, limits)
    return None if denial is None else denial.reason


# -- evaluate_intent ----------------------------------------------------------------------------

def test_an_ordinary_intent_passes() -> None:
    assert intent_check() is None


def test_symbol_whitelist() -> None:
    denial = intent_check(symbol="PEPEUSDT")
    assert denial == Denial(Reason.SYMBOL_NOT_ALLOWED, "PEPEUSDT is not in ALLOWED_SYMBOLS")


def test_leverage_at_the_limit_passes_and_above_is_denied() -> None:
    assert intent_check(leverage=10) is None
    denial = intent_check(leverage=11)
    assert denial == Denial(Reason.LEVERAGE_LIMIT, "leverage 11x is above the 10x limit")


def test_intent_age_at_the_limit_passes_and_older_is_expired() -> None:
    assert intent_check(created_at=NOW - 30) is None
    denial = intent_check(created_at=NOW - 30.5)
    assert denial is not None and denial.reason is Reason.INTENT_EXPIRED
    assert denial.message == "intent is 30.5s old, older than MAX_INTENT_AGE_S=30"


def test_intent_without_a_timestamp_or_from_the_future_is_not_expired() -> None:
    assert intent_check(created_at=None) is None
    assert intent_check(created_at=NOW + 5) is None


def test_intent_dated_ahead_within_the_clock_skew_passes_and_further_is_refused() -> None:
    assert intent_check(created_at=NOW + 5) is None
    denial = intent_check(created_at=NOW + 5.5)
    assert denial == Denial(Reason.INTENT_FROM_FUTURE, "created_at is 5.5s ahead of the service's clock, "
                                                       "more than MAX_CLOCK_SKEW_S=5")


@pytest.mark.parametrize("ahead", [3600.0, 64_060_588_800.0 - NOW])  # an hour; 4000-01-01T00:00:00Z
def test_an_intent_from_the_future_cannot_outlive_its_expiry(ahead: float) -> None:
    denial = intent_check(created_at=NOW + ahead)
    assert denial is not None and denial.reason is Reason.INTENT_FROM_FUTURE


def test_the_clock_skew_is_checked_even_when_the_age_check_is_off() -> None:
    no_age = Limits(**{**_fields(LIMITS), "max_intent_age_s": 0})
    denial = intent_check(created_at=NOW + 60, limits=no_age)
    assert denial is not None and denial.reason is Reason.INTENT_FROM_FUTURE


def test_max_intent_age_zero_disables_the_age_check() -> None:
    no_age = Limits(**{**_fields(LIMITS), "max_intent_age_s": 0})
    assert intent_check(created_at=NOW - 86_400, limits=no_age) is None


def test_order_notional_sanity_bound() -> None:
    assert intent_check(notional=100_000) is None
    denial = intent_check(notional=100_000.01)
    assert denial is not None and denial.reason is Reason.INVALID_INTENT
    assert "100000.01 USD is above the sanity bound 100000.00 USD" in denial.message


def test_intent_checks_report_the_first_problem_in_order() -> None:
    assert intent_check(symbol="PEPEUSDT", leverage=50, created_at=0.0, notional=1e12).reason is \
        Reason.SYMBOL_NOT_ALLOWED  # type: ignore[union-attr]
    assert intent_check(leverage=50, created_at=0.0, notional=1e12).reason is Reason.LEVERAGE_LIMIT  # type: ignore[union-attr]
    assert intent_check(created_at=0.0, notional=1e12).reason is Reason.INTENT_EXPIRED  # type: ignore[union-attr]
    ahead = intent_check(created_at=NOW + 60, notional=1e12)
    assert ahead is not None and ahead.reason is Reason.INTENT_FROM_FUTURE


# -- valuation_price --------------------------------------------------------------------------------

@pytest.mark.parametrize(("reference", "limit", "expected"), [
    (95_000.0, None, 95_000.0),      # MARKET: the touch
    (95_000.0, 100.0, 95_000.0),     # SELL limited far below the bid: fills at the bid
    (95_000.0, 90_000.0, 95_000.0),  # BUY limited below the ask rests; the position is worth the market
    (95_000.0, 99_000.0, 99_000.0),  # BUY limited above the ask may fill up to its limit
    (95_000.0, 95_000.0, 95_000.0),
])
def test_orders_are_valued_at_the_higher_of_their_limit_and_the_market(reference: float, limit: float | None,
                                                                        expected: float) -> None:
    assert valuation_price(reference, limit) == expected


def test_a_far_limit_order_is_held_to_the_position_limit_at_the_market_price() -> None:
    """The defect this rule fixes: 1 BTC SELL limited at 100 passed a 1,000 USD limit and filled at 95,000."""
    assert book_check(-1.0, price=100.0) is None
    assert book_check(-1.0, price=valuation_price(95_000.0, 100.0)) is Reason.POSITION_LIMIT


# -- reduces --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "new", "expected"), [
    (0.02, 0.01, True), (0.02, 0.0, True), (-0.02, -0.01, True), (-0.02, 0.0, True),
    (0.0, 0.01, False), (0.0, -0.01, False), (0.01, 0.02, False), (0.01, -0.005, False), (-0.01, 0.005, False),
    (0.01, 0.01, False), (0.0, 0.0, False),
])
def test_reduces(current: float, new: float, expected: bool) -> None:
    assert reduces(current, new) is expected


# -- evaluate_book --------------------------------------------------------------------------------

def test_an_order_within_every_limit_passes() -> None:
    assert book_check(0.005) is None


def test_halted_denies_everything_even_reducing_orders() -> None:
    halted = Book(trading_state=TradingState.HALTED, position_qty=0.01)
    denial = evaluate_book("BTCUSDT", "SELL", -0.005, PRICE, True, halted, LIMITS)
    assert denial == Denial(Reason.TRADING_HALTED, "trading is HALTED: no orders are accepted")


@pytest.mark.parametrize(("position", "delta", "allowed"), [
    (0.01, -0.005, True),   # reduces a long
    (0.01, -0.01, True),    # closes a long
    (-0.01, 0.004, True),   # reduces a short
    (0.01, 0.001, False),   # grows
    (0.0, 0.001, False),    # opens
    (0.01, -0.015, False),  # flips: not a reduction
])
def test_reducing_state_admits_only_reductions(position: float, delta: float, allowed: bool) -> None:
    book = Book(trading_state=TradingState.REDUCING, position_qty=position)
    denial = evaluate_book("BTCUSDT", "SELL" if delta < 0 else "BUY", delta, PRICE, False, book, LIMITS)
    if allowed:
        assert denial is None
    else:
        assert denial == Denial(Reason.TRADING_HALTED,
                                "trading is REDUCING: only orders that reduce a position are accepted")


@pytest.mark.parametrize(("position", "delta", "allowed"), [
    (0.01, -0.004, True), (0.01, -0.01, True), (-0.01, 0.01, True),
    (0.0, -0.001, False), (0.01, 0.001, False), (0.01, -0.02, False), (-0.01, 0.02, False),
])
def test_reduce_only(position: float, delta: float, allowed: bool) -> None:
    reason = book_check(delta, Book(position_qty=position), reduce_only=True)
    assert reason is (None if allowed else Reason.REDUCE_ONLY)


def test_reduce_only_message_names_the_symbol() -> None:
    denial = evaluate_book("ETHUSDT", "BUY", 1, 3000, True, Book(), LIMITS)
    assert denial == Denial(Reason.REDUCE_ONLY, "reduce_only order would not reduce the ETHUSDT position")


def test_reservations_of_the_own_side_count_as_position() -> None:
    """Open orders of the order's side are part of the position it is checked against: a reduce_only
    SELL of a long that open SELLs already close would open a short."""
    assert book_check(-0.004, Book(position_qty=0.005, reserved_sell=0.005), reduce_only=True) is Reason.REDUCE_ONLY
    assert book_check(-0.004, Book(position_qty=0.005, reserved_sell=0.001), reduce_only=True) is None


def test_open_orders_of_the_other_side_never_make_room() -> None:
    """Worst case: an open BUY may be canceled, so it does not let a SELL reduce; an open SELL may be
    canceled, so it does not free room for a BUY (the net view would see 0.01 - 0.01 = 0 here)."""
    assert book_check(-0.004, Book(position_qty=0.0, reserved_buy=0.005), reduce_only=True) is Reason.REDUCE_ONLY
    both = Book(reserved_buy=0.01, reserved_sell=0.01)  # 1,000 USD each way: at the limit on both sides
    assert book_check(0.001, both) is Reason.POSITION_LIMIT
    assert book_check(-0.001, both) is Reason.POSITION_LIMIT
    assert book_check(0.001, Book(reserved_sell=0.01)) is None  # a BUY alone: 100 USD


def test_an_amend_shrinking_an_order_reduces_its_own_side() -> None:
    """An AMEND that shrinks an open BUY has a negative delta on the BUY side: it reduces, so it passes
    REDUCING and reduce_only even above the limits."""
    over = Book(trading_state=TradingState.REDUCING, position_qty=0.005, reserved_buy=0.02)
    assert book_check(-0.01, over, side="BUY") is None
    assert book_check(-0.01, over, reduce_only=True, side="BUY") is None
    assert book_check(0.001, over, side="BUY") is Reason.TRADING_HALTED


def test_position_limit_counts_the_resulting_position() -> None:
    # 0.005 held + 0.004 reserved + 0.001 = 0.01 BTC = 1,000 USD: exactly at the limit passes
    assert book_check(0.001, Book(position_qty=0.005, reserved_buy=0.004)) is None
    # + 0.002 = 1,100 USD
    denial = evaluate_book("BTCUSDT", "BUY", 0.002, PRICE, False, Book(position_qty=0.005, reserved_buy=0.004),
                           LIMITS)
    assert denial == Denial(Reason.POSITION_LIMIT, "BTCUSDT position would be 1100.00 USD, above the 1000.00 USD limit")


def test_position_limit_applies_to_shorts() -> None:
    assert book_check(-0.01) is None
    assert book_check(-0.0101) is Reason.POSITION_LIMIT


def test_a_flip_that_grows_the_position_is_limited() -> None:
    # long 0.005, sell 0.02: short 0.015 = 1,500 USD
    assert book_check(-0.02, Book(position_qty=0.005)) is Reason.POSITION_LIMIT
    # long 0.01, sell 0.015: short 0.005, smaller than before, passes while ACTIVE
    assert book_check(-0.015, Book(position_qty=0.01)) is None


def test_reducing_orders_pass_while_above_the_limits() -> None:
    """Limits can be lowered under an open position: closing it must stay possible."""
    over = Book(position_qty=0.03, others={"ETHUSDT": (1.0, 0.0, 0.0, 3000.0)})  # 3,000 + 3,000 USD
    assert book_check(-0.005, over) is None
    assert book_check(-0.03, over) is None
    assert book_check(0.001, over) is Reason.POSITION_LIMIT


def test_exposure_counts_other_symbols_at_their_marks() -> None:
    others = {"ETHUSDT": (-0.2, 0.0, 0.0, 3000.0)}  # a 600 USD short
    # 0.009 BTC = 900 USD ; 900 + 600 = 1,500: exactly at the limit passes
    assert book_check(0.009, Book(others=others)) is None
    denial = evaluate_book("BTCUSDT", "BUY", 0.0091, PRICE, False, Book(others=others), LIMITS)
    assert denial == Denial(Reason.EXPOSURE_LIMIT, "total exposure would be 1510.00 USD, above the 1500.00 USD limit")


def test_exposure_counts_other_symbols_at_their_worst_side() -> None:
    # ETH long 0.1 with 0.1 open to BUY and 0.3 open to SELL: 0.2 long or 0.2 short, 600 USD either way
    assert book_check(0.009, Book(others={"ETHUSDT": (0.1, 0.1, 0.3, 3000.0)})) is None
    # 0.4 open to SELL: a 0.3 short is the worst case, 900 USD
    assert book_check(0.009, Book(others={"ETHUSDT": (0.1, 0.1, 0.4, 3000.0)})) is Reason.EXPOSURE_LIMIT
    assert book_check(0.006, Book(others={"ETHUSDT": (0.1, 0.1, 0.4, 3000.0)})) is None


def test_exposure_ignores_the_symbol_itself_in_others() -> None:
    others = {"BTCUSDT": (100.0, 0.0, 0.0, 100_000.0), "ETHUSDT": (0.1, 0.0, 0.0, 3000.0)}
    assert book_check(0.009, Book(others=others)) is None


def test_exposure_is_not_checked_for_orders_that_do_not_grow_the_position() -> None:
    others = {"ETHUSDT": (10.0, 0.0, 0.0, 3000.0)}  # 30,000 USD elsewhere
    assert book_check(-0.001, Book(position_qty=0.005, others=others)) is None
    assert book_check(0.001, Book(position_qty=0.005, others=others)) is Reason.EXPOSURE_LIMIT


def test_order_rate() -> None:
    assert book_check(0.001, Book(orders_this_minute=4)) is None
    denial = evaluate_book("BTCUSDT", "BUY", 0.001, PRICE, False, Book(orders_this_minute=5), LIMITS)
    assert denial == Denial(Reason.ORDER_RATE_LIMIT, "5 orders this minute, the limit is 5")


def test_order_rate_applies_to_reducing_orders_too() -> None:
    assert book_check(-0.001, Book(position_qty=0.01, orders_this_minute=5)) is Reason.ORDER_RATE_LIMIT


def test_order_rate_zero_means_unlimited() -> None:
    unlimited = Limits(**{**_fields(LIMITS), "max_orders_per_minute": 0})
    assert book_check(0.001, Book(orders_this_minute=10**6), limits=unlimited) is None


def test_book_checks_report_the_first_problem_in_order() -> None:
    everything = dict(position_qty=0.0, orders_this_minute=99, others={"ETHUSDT": (10.0, 0.0, 0.0, 3000.0)})
    assert book_check(1.0, Book(trading_state=TradingState.HALTED, **everything), True) is Reason.TRADING_HALTED
    assert book_check(1.0, Book(trading_state=TradingState.REDUCING, **everything), True) is Reason.TRADING_HALTED
    assert book_check(1.0, Book(**everything), True) is Reason.REDUCE_ONLY
    assert book_check(1.0, Book(**everything)) is Reason.POSITION_LIMIT
    assert book_check(0.001, Book(**everything)) is Reason.EXPOSURE_LIMIT
    assert book_check(0.0, Book(**everything)) is Reason.ORDER_RATE_LIMIT


def test_limits_from_settings() -> None:
    s = load_settings({}, allowed_symbols="BTCUSDT,ETHUSDT", max_leverage=5, max_position_usd=250,
                      max_total_exposure_usd=700, max_orders_per_minute=9, max_intent_age_s=12,
                      max_order_notional_usd=5000, max_clock_skew_s=2.5)
    assert limits_from_settings(s) == Limits(frozenset({"BTCUSDT", "ETHUSDT"}), 5, 250, 700, 9, 12, 5000, 2.5)


def _fields(limits: Limits) -> dict[str, object]:
    return {name: getattr(limits, name) for name in Limits.__slots__}  # type: ignore[attr-defined]
